package amitest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	retryLineRE = regexp.MustCompile(`^(StartRetry|EndRetry|DelayedRetry): \d+ (\d+) \(\d+\)$`)
	timingRE    = regexp.MustCompile(`^(RetryTime|WaitTime): \d+$`)
)

// normalizeCallFile keeps what must match: every line, with the pid, the
// times and the (shortened) RetryTime/WaitTime values blanked.
func normalizeCallFile(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = retryLineRE.ReplaceAllString(l, "$1: PID $2 (T)")
		l = timingRE.ReplaceAllString(l, "$1: N")
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// The six captured call files (callfiles/), run by the fake pbx_spool with
// shorter RetryTime/WaitTime: the same outgoing_done files line for line
// (StartRetry/EndRetry/DelayedRetry lines, Status Completed/Expired), F
// deleted, C run only at its future mtime, and on AMI the channel events
// with no OriginateResponse and one failed-extension UserEvent per failed
// attempt (4, as in 40_*).
func TestSpoolCallFiles(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	c := login(t, srv, "on")
	dir := t.TempDir()
	sp, err := srv.StartSpool(dir, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	names := []string{"A_answer", "B_busy_retry", "C_scheduled_20s", "D_noanswer_wait5", "E_nosuchexten", "F_no_archive"}
	var cAt time.Time
	for _, n := range names {
		b, err := os.ReadFile("../testdata/callfiles/" + n + ".call.submitted")
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		s := strings.ReplaceAll(string(b), "RetryTime: 5\n", "RetryTime: 1\n")
		s = strings.ReplaceAll(s, "WaitTime: 5\n", "WaitTime: 1\n")
		tmp := filepath.Join(dir, n+".call.tmp")
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if n == "C_scheduled_20s" {
			cAt = time.Now().Add(1500 * time.Millisecond)
			if err := os.Chtimes(tmp, cAt, cAt); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(tmp, filepath.Join(dir, "outgoing", n+".call")); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"A_answer": "Completed", "B_busy_retry": "Expired", "C_scheduled_20s": "Completed",
		"D_noanswer_wait5": "Expired", "E_nosuchexten": "Expired", "F_no_archive": "Deleted"}
	for _, n := range names {
		got, ok := sp.Wait(n+".call", 10*time.Second)
		if !ok {
			t.Fatalf("%s: not done", n)
		}
		if got != want[n] {
			t.Errorf("%s: %s, want %s", n, got, want[n])
		}
		if n == "C_scheduled_20s" && time.Now().Before(cAt) {
			t.Errorf("C ran before its mtime")
		}
		done, err := os.ReadFile(filepath.Join(dir, "outgoing_done", n+".call"))
		if n == "F_no_archive" {
			if err == nil {
				t.Errorf("F archived without Archive: yes")
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		capt, err := os.ReadFile("../testdata/callfiles/" + n + ".call.outgoing_done")
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		if g, w := normalizeCallFile(done), normalizeCallFile(capt); g != w {
			t.Errorf("%s outgoing_done:\n%s\nwant:\n%s", n, g, w)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "outgoing")); len(ents) != 0 {
		t.Errorf("outgoing not empty: %d files", len(ents))
	}
	// AMI: read what arrived
	failed, originateResponses := 0, 0
	c.write("Action: Ping\r\nActionID: end\r\n\r\n")
	for {
		m := c.mustRead(2 * time.Second)
		if m.get("ActionID") == "end" {
			break
		}
		switch {
		case m.get("Event") == "OriginateResponse":
			originateResponses++
		case m.get("Event") == "UserEvent" && m.get("Channel") == "OutgoingSpoolFailed":
			failed++
		}
	}
	if originateResponses != 0 || failed != 4 {
		t.Errorf("AMI: %d OriginateResponse (want 0), %d failed-extension UserEvents (want 4)", originateResponses, failed)
	}
}

// The fake reads a call file's lines as pbx_spool does: a '#' at the start
// or after a blank, and an unescaped ';', start a comment; "\;" is a ';'.
func TestCallFileComments(t *testing.T) {
	for in, want := range map[string]string{
		"Data: custom/hello":               "Data: custom/hello",
		"# a comment":                      "",
		"; a comment":                      "",
		"Data: custom/hello ; say hello":   "Data: custom/hello ",
		"Data: custom/hello;x":             "Data: custom/hello",
		`Data: a\;b;c`:                     "Data: a;b",
		`Data: a\;b\;c`:                    "Data: a;b;c",
		`CallerID: "Sales#1" <100> # ours`: `CallerID: "Sales#1" <100> `,
		"Setvar: TAG=a#b":                  "Setvar: TAG=a#b",
		"Setvar: TAG=a\t#b":                "Setvar: TAG=a\t",
	} {
		if got := stripCallFileComment(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	cf, err := parseCallFile([]byte("Channel: Local/100@test\nApplication: Playback\nData: custom/x;comment\nCallerID: \"A\" <1> # ours\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cf.data != "custom/x" || cf.callerID != `"A" <1>` {
		t.Errorf("data %q, callerid %q: comments not cut", cf.data, cf.callerID)
	}
}
