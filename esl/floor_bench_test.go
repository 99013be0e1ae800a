package esl

import (
	"io"
	"testing"
)

// BenchmarkLoopbackEventRoundTrip is the kernel's share of one event and
// one command, with no parsing at all: the real 3.2 KB
// CHANNEL_EXECUTE_COMPLETE written on a loopback TCP socket, read whole on
// the other end, and a 100-byte sendmsg written back and read, between two
// goroutines (the syscalls, poller wake-ups and goroutine switches a call
// pays per event and command). ivrd's CPU per event and per call is to be
// read against it: what the process adds beyond this is the parse, the
// session and the call log.
func BenchmarkLoopbackEventRoundTrip(b *testing.B) {
	event := pagdComplete(b)
	command := []byte("sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: new_sales/1001.wav\nevent-lock: true\n\n")
	fs, ivr := tcpPair(b)
	done := make(chan error, 1)
	go func() { // ivrd's side: read the event, answer with the command
		buf := make([]byte, len(event))
		for {
			if _, err := io.ReadFull(ivr, buf); err != nil {
				done <- nil
				return
			}
			if _, err := ivr.Write(command); err != nil {
				done <- err
				return
			}
		}
	}()
	reply := make([]byte, len(command))
	for b.Loop() {
		if _, err := fs.Write(event); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(fs, reply); err != nil {
			b.Fatal(err)
		}
	}
	fs.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}
