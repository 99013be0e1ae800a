package esl

// CommandLine is the first line of a client command ("sendmsg", "api
// status"); the fake peers of these tests read what the client sent with
// the package's own Reader.
func (m *Message) CommandLine() string { return m.commandLine() }
