package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// servedDialer is a `dialer serve` process started by startServe.
type servedDialer struct {
	cmd  *exec.Cmd
	addr string      // its http listener, as printed
	rest chan string // the stdout after the address line, once it exits
}

// startServe runs the built binary with args and env added to the test's
// environment, waits for its "http on" line and collects the rest of its
// stdout; the process is killed at the end of the test if still running.
func startServe(t *testing.T, env []string, args ...string) *servedDialer {
	t.Helper()
	cmd := exec.Command(buildDialer(t), args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	s := &servedDialer{cmd: cmd, rest: make(chan string, 1)}
	for lines.Scan() {
		if a, ok := strings.CutPrefix(lines.Text(), "dialer serve: http on "); ok {
			s.addr = a
			break
		}
	}
	if s.addr == "" {
		_ = cmd.Wait()
		t.Fatalf("no http address printed; stderr:\n%s", stderr.String())
	}
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		_, _ = io.Copy(io.Discard, stdout)
		s.rest <- b.String()
	}()
	return s
}
