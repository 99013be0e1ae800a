package esltest

import (
	"strconv"
	"strings"
	"time"
)

// maxSleep bounds `api msleep` so a test cannot hang the fake.
const maxSleep = 10 * time.Second

// localAPI answers the api commands that depend on where they are sent
// (the outbound session knows its channel, the inbound server all of
// them): the response body, an optional step to run once the response is
// written (uuid_kill's hangup events follow its +OK), and ok=false for a
// command it does not know.
type localAPI func(name, arg string) (body string, then func(), ok bool)

// runAPI answers an `api` (or `bgapi`) command line: the commands every
// FreeSWITCH has (uptime, version, status with sessions) here, the rest by
// local; what neither knows gets FreeSWITCH's "-ERR <name> Command not
// found!".
func (si *switchInfo) runAPI(line string, sessions int, local localAPI) (body string, then func()) {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "uptime":
		return si.uptimeSeconds(), nil
	case "version":
		return versionBody, nil
	case "status":
		return si.statusBody(sessions), nil
	case "echo": // mod_commands: the argument, as is
		return arg, nil
	case "msleep": // mod_commands: sleep, then +OK (blocks this socket like FS does)
		ms, err := strconv.Atoi(arg)
		if err != nil || ms < 0 {
			return "-USAGE: <milliseconds>\n", nil
		}
		time.Sleep(min(time.Duration(ms)*time.Millisecond, maxSleep))
		return "+OK", nil
	}
	if local != nil {
		if body, then, ok := local(name, arg); ok {
			return body, then
		}
	}
	return "-ERR " + name + " Command not found!\n", nil
}

// jobUUID is the Job-UUID a bgapi command asked for, or a new one (as
// FreeSWITCH does when the client sends none).
func jobUUID(cmd *command) string {
	if job := cmd.get("Job-UUID"); job != "" {
		return job
	}
	return newUUID()
}

// backgroundJob is the BACKGROUND_JOB event carrying a bgapi's output.
// owner is the outbound socket's channel (Job-Owner-UUID, which lets the
// job pass myevents' filter); "" on the inbound socket.
func (si *switchInfo) backgroundJob(job, line, owner, body string) *eventMsg {
	name, arg, _ := strings.Cut(line, " ")
	l := si.eventHeader("BACKGROUND_JOB", siteJob.file, siteJob.function, siteJob.line)
	l.add("Job-UUID", job)
	if owner != "" {
		l.add("Job-Owner-UUID", owner)
	}
	l.add("Job-Command", name)
	if arg = strings.TrimSpace(arg); arg != "" {
		l.add("Job-Command-Arg", arg)
	}
	return &eventMsg{headers: l, body: body}
}
