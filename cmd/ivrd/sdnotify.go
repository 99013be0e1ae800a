package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify sends one state line to systemd's notify socket (Type=notify
// units: READY=1 once calls can be taken, STOPPING=1 when the drain
// starts, RELOADING=1 ... READY=1 around a reload). Without NOTIFY_SOCKET
// (not under systemd) it does nothing. The protocol is one datagram on the
// unix socket named by the variable; a leading '@' is the abstract namespace.
func sdNotify(getenv func(string) string, state string) error {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// notify sends state to systemd; a failure is printed, not fatal:
// readiness is an aid to the supervisor, not a call path.
func notify(state string) {
	if err := sdNotify(os.Getenv, state); err != nil {
		fmt.Fprintln(os.Stderr, "ivrd:", err)
	}
}
