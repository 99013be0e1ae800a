package callfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/callfile"
)

// Every directive of seed 004, in the documented order.
func TestEncodeEveryField(t *testing.T) {
	f := callfile.File{
		Channel: "PJSIP/18882223333@trunk", CallerIDName: "Dialer", CallerIDNumber: "1234",
		MaxRetries: 2, RetryTime: 60 * time.Second, WaitTime: 29500 * time.Millisecond, Account: "acct-7",
		Context: "callme", Extension: "800", Priority: "2",
		Application: "Playback", Data: "hello-world",
		Set:          [][2]string{{"CALLID", "a1"}, {"__PassedInfo", "15551234567-more"}, {"CDR(userfield)", "x"}},
		AlwaysDelete: true, Archive: true,
	}
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `Channel: PJSIP/18882223333@trunk
CallerID: "Dialer" <1234>
MaxRetries: 2
RetryTime: 60
WaitTime: 30
Account: acct-7
Application: Playback
Data: hello-world
Context: callme
Extension: 800
Priority: 2
Set: CALLID=a1
Set: __PassedInfo=15551234567-more
Set: CDR(userfield)=x
AlwaysDelete: yes
Archive: yes
`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

// The captured A_answer.call.submitted is what Encode writes for the same
// fields, byte for byte.
func TestEncodeMatchesCapture(t *testing.T) {
	want, err := os.ReadFile("testdata/callfiles/A_answer.call.submitted")
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	f := callfile.File{Channel: "Local/100@test", CallerIDName: "Dialer", CallerIDNumber: "1234",
		RetryTime: 5 * time.Second, WaitTime: 30 * time.Second, Context: "test", Extension: "400", Priority: "1",
		Set: [][2]string{{"CALLID", "cf-A-70d29ee9"}}, Archive: true}
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(want) {
		t.Errorf("got\n%s\nwant (capture)\n%s", b, want)
	}
}

func TestEncodeRefuses(t *testing.T) {
	ok := callfile.File{Channel: "Local/100@test", Context: "test", Extension: "400", Archive: true}
	long := strings.Repeat("x", 300)
	cases := map[string]func(f *callfile.File){
		"newline in channel":       func(f *callfile.File) { f.Channel = "Local/100@test\nApplication: System" },
		"CR in context":            func(f *callfile.File) { f.Context = "test\rData: rm" },
		"newline in set value":     func(f *callfile.File) { f.Set = [][2]string{{"A", "1\nChannel: Local/666@x"}} },
		"newline in set name":      func(f *callfile.File) { f.Set = [][2]string{{"A\nB", "1"}} },
		"= in set name":            func(f *callfile.File) { f.Set = [][2]string{{"A=B", "1"}} },
		"newline in account":       func(f *callfile.File) { f.Account = "a\n" },
		"newline in data":          func(f *callfile.File) { f.Application, f.Data = "Playback", "x\ny" },
		"newline in callerid name": func(f *callfile.File) { f.CallerIDName, f.CallerIDNumber = "a\nb", "1" },
		"quote in callerid name":   func(f *callfile.File) { f.CallerIDName, f.CallerIDNumber = `a"b`, "1" },
		"letters in callerid num":  func(f *callfile.File) { f.CallerIDNumber = "12a" },
		"over-long channel":        func(f *callfile.File) { f.Channel = long },
		"over-long set value":      func(f *callfile.File) { f.Set = [][2]string{{"A", long}} },
		"comma in data":            func(f *callfile.File) { f.Application, f.Data = "Dial", "PJSIP/1,30" },
		"neither app nor exten":    func(f *callfile.File) { f.Extension = "" },
		"exten without context":    func(f *callfile.File) { f.Context = "" },
		"no channel":               func(f *callfile.File) { f.Channel = "" },
		"padded value":             func(f *callfile.File) { f.Context = " test" },
		"bad priority":             func(f *callfile.File) { f.Priority = "1 2" },
		"negative retries":         func(f *callfile.File) { f.MaxRetries = -1 },
		// pbx_spool cuts a line at ';' and at a '#' that starts it or
		// follows a blank: the rest of the value would be lost unseen.
		"semicolon in set value":  func(f *callfile.File) { f.Set = [][2]string{{"NOTE", "call back; after 5"}} },
		"semicolon in channel":    func(f *callfile.File) { f.Channel = "Local/100@test;x" },
		"# after a blank in data": func(f *callfile.File) { f.Application, f.Data = "Playback", "hello #world" },
		"# starting the context":  func(f *callfile.File) { f.Context = "#test" },
		"# after a blank in name": func(f *callfile.File) { f.CallerIDName, f.CallerIDNumber = "a #b", "1" },
	}
	for name, mut := range cases {
		f := ok
		mut(&f)
		if b, err := f.Encode(); !errors.Is(err, callfile.ErrInvalid) || !errors.Is(err, dialer.ErrInvalidValue) || b != nil {
			t.Errorf("%s: Encode = %q, %v; want ErrInvalid", name, b, err)
		}
	}
	if _, err := ok.Encode(); err != nil {
		t.Errorf("the valid base file: %v", err)
	}
	app := callfile.File{Channel: "Local/100@test", Application: "Playback", Data: "hello-world"}
	if _, err := app.Encode(); err != nil {
		t.Errorf("application only: %v", err)
	}
}

func TestParseCallerID(t *testing.T) {
	for in, want := range map[string][2]string{
		`"Dialer" <1234>`: {"Dialer", "1234"}, `Dialer <+1234>`: {"Dialer", "+1234"}, "1234": {"", "1234"}, "": {"", ""},
	} {
		n, num, err := callfile.ParseCallerID(in)
		if err != nil || n != want[0] || num != want[1] {
			t.Errorf("ParseCallerID(%q) = %q %q %v", in, n, num, err)
		}
	}
	for _, bad := range []string{`"a" <12`, "Dialer <12\n34>", `"x" <abc>`} {
		if _, _, err := callfile.ParseCallerID(bad); !errors.Is(err, callfile.ErrInvalid) {
			t.Errorf("ParseCallerID(%q): %v", bad, err)
		}
	}
}

// The captured archives read back as Completed / Expired, with pbx_spool's
// attempt count; the spool snapshots (no Status yet) are incomplete.
func TestReadStatusCaptures(t *testing.T) {
	want := map[string]struct {
		st       callfile.Status
		attempts int
	}{
		"A_answer": {callfile.Completed, 1}, "B_busy_retry": {callfile.Expired, 2}, "C_scheduled_20s": {callfile.Completed, 1},
		"D_noanswer_wait5": {callfile.Expired, 1}, "E_nosuchexten": {callfile.Expired, 1},
	}
	for name, w := range want {
		b, err := os.ReadFile(filepath.Join("testdata/callfiles", name+".call.outgoing_done"))
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		st, n, err := callfile.ReadStatus(b)
		if err != nil || st != w.st || n != w.attempts {
			t.Errorf("%s: %s %d %v; want %s %d", name, st, n, err, w.st, w.attempts)
		}
	}
	snaps, _ := filepath.Glob("testdata/callfiles/*.spool_snapshot_*")
	if len(snaps) == 0 {
		t.Fatal("fixture: no spool snapshots")
	}
	for _, p := range snaps {
		b, _ := os.ReadFile(p)
		if _, _, err := callfile.ReadStatus(b); !errors.Is(err, callfile.ErrNoStatus) {
			t.Errorf("%s: %v, want ErrNoStatus", p, err)
		}
	}
}
