package esltest

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"testing"
)

// s1Script makes the fake look like the captured s1 call (loopback B leg).
func s1Script() Script {
	return Script{
		ChannelName:  "loopback/ivr-b",
		OtherLegUUID: newUUID(),
		Digits:       []string{"2", "3"},
		Bridges:      []BridgeOutcome{{Cause: "USER_NOT_REGISTERED"}},
	}
}

// eventKey identifies an event for the structural comparison.
func eventKey(m *msg) string {
	if ct := m.get("Content-Type"); ct != "text/event-plain" {
		if m.get("Socket-Mode") != "" {
			return "connect"
		}
		return ct + "/" + m.get("Content-Disposition")
	}
	return m.ev("Event-Name") + "/" + m.ev("Application")
}

// TestOutboundMatchesCaptureStructure drives the fake with the command
// sequence of s1_outbound_full and compares, per message kind, the header
// NAME sequence (outer and inner) with the real capture.
func TestOutboundMatchesCaptureStructure(t *testing.T) {
	real := parseAll(t, fixture(t, "s1_outbound_full.rx.bin"))
	call, c := startCall(t, s1Script())

	connect := c.cmd("connect")
	if connect != "%2BOK%0A" {
		t.Fatalf("connect Reply-Text = %q, want URL-encoded +OK", connect)
	}
	steps := []struct{ cmd, want string }{
		{"myevents", "+OK Events Enabled"},
		{"linger", "+OK will linger"},
		{"event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF CUSTOM fifo::info", "+OK event listener enabled plain"},
	}
	for _, st := range steps {
		if got := c.cmd(st.cmd); got != st.want {
			t.Fatalf("%s: Reply-Text %q, want %q", st.cmd, got, st.want)
		}
	}
	apps := []struct{ app, arg string }{
		{"answer", ""},
		{"playback", "tone_stream://%(500,0,440)"},
		{"play_and_get_digits", "1 1 3 5000 # tone_stream://%(200,0,500) tone_stream://%(200,0,300) menu_number [1-5]"},
		{"play_and_get_digits", "1 1 3 5000 # tone_stream://%(200,0,500) tone_stream://%(200,0,300) menu_number2 [1-5]"},
		{"set", "continue_on_fail=true"},
		{"set", "hangup_after_bridge=true"},
		{"bridge", "user/1001"},
	}
	for _, a := range apps {
		id := newUUID()
		if got := c.cmd(execute(a.app, a.arg, id)); got != "+OK" {
			t.Fatalf("execute %s: %q", a.app, got)
		}
		done := c.until(func(m *msg) bool {
			return m.ev("Application-UUID") == id && m.ev("Event-Name") == "CHANNEL_EXECUTE_COMPLETE"
		})
		if a.app == "playback" && done.ev("Application-Response") != "FILE PLAYED" {
			t.Errorf("playback response %q", done.ev("Application-Response"))
		}
	}
	if got := c.cmd("getvar menu_number"); got != "2" {
		t.Errorf("getvar menu_number = %q", got)
	}
	if got := c.cmd("getvar menu_number2"); got != "3" {
		t.Errorf("getvar menu_number2 = %q", got)
	}
	if got := c.cmd("nosuchcommand"); got != "-ERR command not found" {
		t.Errorf("unknown command: %q", got)
	}
	if got := c.cmd("sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: execute\nexecute-app-name: answer"); got != "-ERR invalid session id [00000000-0000-0000-0000-000000000000]" {
		t.Errorf("sendmsg other uuid: %q", got)
	}
	c.send("api nosuchapi")
	api := c.until(func(m *msg) bool { return m.get("Content-Type") == "api/response" })
	if api.body != "-ERR nosuchapi Command not found!\n" {
		t.Errorf("api nosuchapi body %q", api.body)
	}
	c.cmd("event plain BACKGROUND_JOB")
	c.send("bgapi uptime")
	c.until(isEvent("BACKGROUND_JOB", ""))
	if got := c.cmd("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING"); got != "+OK" {
		t.Fatalf("hangup: %q", got)
	}
	c.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })
	if got := c.cmd("getvar menu_number"); got != "2" {
		t.Errorf("getvar while lingering = %q", got)
	}
	if got := c.cmd("exit"); got != "+OK bye" {
		t.Errorf("exit: %q", got)
	}
	bye := c.next()
	if bye.get("Content-Disposition") != "disconnect" || bye.body != goodbye {
		t.Errorf("exit notice %+v", bye)
	}
	if _, err := c.r.ReadMessage(); err != io.EOF {
		t.Errorf("after exit: want EOF, got %v", err)
	}
	<-call.Done()

	// Structural comparison, first occurrence of each kind.
	firstReal := map[string]*msg{}
	for _, m := range real {
		if k := eventKey(m); firstReal[k] == nil {
			firstReal[k] = m
		}
	}
	firstFake := map[string]*msg{}
	for _, m := range c.seen {
		if k := eventKey(m); firstFake[k] == nil {
			firstFake[k] = m
		}
	}
	kinds := []string{
		"connect",
		"CHANNEL_EXECUTE/answer", "CHANNEL_ANSWER/", "CHANNEL_EXECUTE_COMPLETE/answer",
		"CHANNEL_EXECUTE/playback", "CHANNEL_EXECUTE_COMPLETE/playback",
		"CHANNEL_EXECUTE/play_and_get_digits", "DTMF/", "CHANNEL_EXECUTE_COMPLETE/play_and_get_digits",
		"CHANNEL_EXECUTE/set", "CHANNEL_EXECUTE_COMPLETE/set",
		"CHANNEL_EXECUTE/bridge", "CHANNEL_EXECUTE_COMPLETE/bridge",
		"BACKGROUND_JOB/",
		"CHANNEL_HANGUP/", "CHANNEL_UNPARK/", "CHANNEL_EXECUTE_COMPLETE/socket", "CHANNEL_STATE/",
		"CHANNEL_HANGUP_COMPLETE/",
		"text/disconnect-notice/linger", "text/disconnect-notice/disconnect",
	}
	for _, k := range kinds {
		r, f := firstReal[k], firstFake[k]
		if r == nil || f == nil {
			t.Errorf("%s: real=%v fake=%v", k, r != nil, f != nil)
			continue
		}
		if d := diffNames(names(r.headers), names(f.headers)); d != "" {
			t.Errorf("%s: outer header names differ (real | fake):\n%s", k, d)
		}
		if d := diffNames(names(r.event), names(f.event)); d != "" {
			t.Errorf("%s: event header names differ (real | fake):\n%s", k, d)
		}
	}
	// Same event order as the capture for the socket-side hangup.
	if got, want := eventOrderAfter(c.seen, "CHANNEL_HANGUP"), eventOrderAfter(real, "CHANNEL_HANGUP"); got != want {
		t.Errorf("hangup order:\n got %s\nwant %s", got, want)
	}
	if call.HangupCause() != "NORMAL_CLEARING" || !call.Disconnected() {
		t.Errorf("cause %q disconnected %v", call.HangupCause(), call.Disconnected())
	}
}

// eventOrderAfter lists the kinds of messages from the first `from` event on.
func eventOrderAfter(ms []*msg, from string) string {
	var out []string
	on := false
	for _, m := range ms {
		if m.ev("Event-Name") == from {
			on = true
		}
		if on && m.get("Content-Type") != "command/reply" && m.get("Content-Type") != "api/response" {
			out = append(out, eventKey(m))
		}
	}
	return strings.Join(out, " ")
}

func TestURLEncodeMatchesCapture(t *testing.T) {
	cases := map[string]string{
		"tone_stream://%(500,0,440)":      "tone_stream%3A//%25(500,0,440)",
		"Mon, 23 Nov 2026 13:21:25 GMT":   "Mon,%2023%20Nov%202026%2013%3A21%3A25%20GMT",
		"loopback/ivr/default &park":      "loopback/ivr/default%20%26park",
		"continue_on_fail=true":           "continue_on_fail%3Dtrue",
		"+OK\n":                           "%2BOK%0A",
		"[1-5]":                           "%5B1-5%5D",
		"percent %41 kept":                "percent%20%41%20kept",
		"fd00::2":                         "fd00%3A%3A2",
		"{origination_uuid=x}a/b &park":   "%7Borigination_uuid%3Dx%7Da/b%20%26park",
		"a'b!c*d$e-f,g(h)":                "a'b!c*d$e-f,g(h)",
		"tone_stream://L=20;%(500,500,4)": "tone_stream%3A//L%3D20%3B%25(500,500,4)",
	}
	for in, want := range cases {
		if got := urlEncode(in); got != want {
			t.Errorf("urlEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCallerHangupDuringPlayback(t *testing.T) {
	for _, linger := range []bool{true, false} {
		t.Run(map[bool]string{true: "linger", false: "nolinger"}[linger], func(t *testing.T) {
			name := "s2b_outbound_caller_hangup_nolinger.rx.bin"
			if linger {
				name = "s2_outbound_caller_hangup_linger.rx.bin"
			}
			real := parseAll(t, fixture(t, name))
			s := Script{ChannelName: "loopback/ivr-b", OtherLegUUID: newUUID(),
				PlaybackDuration: 1 << 40, // never finishes by itself
				HangupAt:         &HangupPoint{App: "playback", Nth: 1}}
			call, c := startCall(t, s)
			c.cmd("connect")
			c.cmd("myevents")
			if linger {
				c.cmd("linger")
			}
			c.cmd("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF CUSTOM fifo::info")
			c.cmd(execute("answer", "", newUUID()))
			c.until(isEvent("CHANNEL_EXECUTE_COMPLETE", "answer"))
			id := newUUID()
			c.cmd(execute("playback", "tone_stream://L=20;%(500,500,440)", id))
			notice := c.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })
			want := eventOrderAfter(real, "CHANNEL_HANGUP")
			if linger { // the capture goes on with exit's notice
				want = strings.TrimSuffix(want, " text/disconnect-notice/disconnect")
			}
			if got := eventOrderAfter(c.seen, "CHANNEL_HANGUP"); got != want {
				t.Errorf("order:\n got %s\nwant %s", got, want)
			}
			var pb *msg
			for _, m := range c.seen {
				if m.ev("Application-UUID") == id && m.ev("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" {
					pb = m
				}
			}
			if pb == nil || pb.ev("Application-Response") != "PLAYBACK ERROR" {
				t.Fatalf("playback completion %+v", pb)
			}
			wantNotice := real[len(real)-1]
			if linger {
				wantNotice = real[len(real)-3] // linger notice, then +OK bye, then the exit notice
			}
			if d := diffNames(names(wantNotice.headers), names(notice.headers)); d != "" {
				t.Errorf("notice header names (real | fake):\n%s", d)
			}
			if linger {
				if notice.get("Content-Disposition") != "linger" || notice.get("Linger-Time") != "-1" {
					t.Errorf("linger notice %+v", notice.headers)
				}
				if got := c.cmd(execute("playback", "x.wav", newUUID())); got != "+OK" {
					t.Errorf("sendmsg on a dead lingering channel: %q", got)
				}
				if got := c.cmd("exit"); got != "+OK bye" {
					t.Errorf("exit %q", got)
				}
				c.next()
			} else if notice.get("Content-Disposition") != "disconnect" || notice.body != goodbye {
				t.Errorf("disconnect notice %+v", notice)
			}
			<-call.Done()
			if !call.Disconnected() || call.HangupCause() != "NORMAL_CLEARING" {
				t.Errorf("disconnected=%v cause=%q", call.Disconnected(), call.HangupCause())
			}
		})
	}
}

func TestBadAppHangsUpWithoutCompletion(t *testing.T) {
	seen := make(chan string, 16)
	call, c := startCall(t, Script{Observer: func(r Record) { seen <- r.Verb + " " + r.App }})
	c.cmd("connect")
	c.cmd("myevents")
	id := newUUID()
	if got := c.cmd(execute("nosuchapp", "", id)); got != "+OK" {
		t.Fatalf("reply %q", got)
	}
	notice := c.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })
	for _, m := range c.seen {
		if m.ev("Application-UUID") == id {
			t.Errorf("unexpected event for unknown app: %s", m.ev("Event-Name"))
		}
	}
	if notice.get("Content-Disposition") != "disconnect" {
		t.Errorf("notice %+v", notice.headers)
	}
	<-call.Done()
	if call.HangupCause() != "DESTINATION_OUT_OF_ORDER" {
		t.Errorf("cause %q", call.HangupCause())
	}
	close(seen)
	var verbs []string
	for v := range seen {
		verbs = append(verbs, v)
	}
	if strings.Join(verbs, ",") != "connect ,myevents ,sendmsg nosuchapp" {
		t.Errorf("observer saw %q", verbs)
	}
}

func TestPlayAndGetDigitsInvalidThenTimeout(t *testing.T) {
	call, c := startCall(t, Script{Digits: []string{"9", "", "4"}})
	c.cmd("connect")
	c.cmd("myevents")
	id := newUUID()
	c.cmd(execute("play_and_get_digits", "1 1 3 5000 # a.wav b.wav choice [1-5]", id))
	done := c.until(isEvent("CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits"))
	if done.ev("variable_choice") != "4" || done.ev("variable_read_result") != "success" {
		t.Errorf("third try should succeed: choice=%q result=%q", done.ev("variable_choice"), done.ev("variable_read_result"))
	}
	var dtmf []string
	for _, m := range c.seen {
		if m.ev("Event-Name") == "DTMF" {
			dtmf = append(dtmf, m.ev("DTMF-Digit"))
		}
	}
	if strings.Join(dtmf, "") != "94" {
		t.Errorf("DTMF events %v", dtmf)
	}
	id2 := newUUID()
	c.cmd(execute("play_and_get_digits", "1 1 2 5000 # a.wav b.wav choice2 [1-5]", id2))
	done = c.until(isEvent("CHANNEL_EXECUTE_COMPLETE", "play_and_get_digits"))
	if _, ok := findHeader(done.event, "variable_choice2"); ok || done.ev("variable_read_result") != "timeout" {
		t.Errorf("exhausted tries: choice2 present=%v result=%q", ok, done.ev("variable_read_result"))
	}
	c.conn.Close()
	<-call.Done()
	if !call.ClosedByClient() {
		t.Errorf("ClosedByClient = false")
	}
	recs := call.Commands()
	if len(recs) != 4 || recs[2].App != "play_and_get_digits" || recs[2].EventUUID != id {
		t.Errorf("records %+v", recs)
	}
}

func findHeader(hs []header, name string) (string, bool) {
	for _, h := range hs {
		if h.name == name {
			return h.value, true
		}
	}
	return "", false
}

func TestBridgeAnsweredThenHangupAfterBridge(t *testing.T) {
	call, c := startCall(t, Script{Bridges: []BridgeOutcome{{Answer: true}}})
	c.cmd("connect")
	c.cmd("myevents")
	c.cmd(execute("set", "hangup_after_bridge=true", newUUID()))
	c.cmd(execute("bridge", "sofia/gateway/gw/100", newUUID()))
	c.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })
	got := eventOrderAfter(c.seen, "CHANNEL_BRIDGE")
	want := "CHANNEL_BRIDGE/ CHANNEL_UNBRIDGE/ CHANNEL_HANGUP/ CHANNEL_EXECUTE_COMPLETE/bridge CHANNEL_UNPARK/ CHANNEL_EXECUTE_COMPLETE/socket CHANNEL_STATE/ CHANNEL_STATE/ CHANNEL_HANGUP_COMPLETE/ text/disconnect-notice/disconnect"
	if got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}
	<-call.Done()
}

func TestTransferKeepsSocketAndFifoEvent(t *testing.T) {
	call, c := startCall(t, Script{FifoBridge: true, Vars: map[string]string{"ivr_flow": "sales"}})
	c.cmd("connect")
	if v := c.seen[0].get("variable_ivr_flow"); v != "sales" {
		t.Errorf("variable_ivr_flow = %q", v)
	}
	c.cmd("myevents")
	c.cmd("event plain CUSTOM fifo::info")
	id := newUUID()
	c.cmd(execute("transfer", "fifo_sales XML default", id))
	c.until(func(m *msg) bool { return m.ev("FIFO-Action") == "bridge-caller-start" })
	got := eventOrderAfter(c.seen, "CHANNEL_EXECUTE")
	want := "CHANNEL_EXECUTE/transfer CHANNEL_EXECUTE_COMPLETE/transfer CHANNEL_UNPARK/ CHANNEL_EXECUTE_COMPLETE/socket CHANNEL_STATE/ CHANNEL_STATE/ CHANNEL_EXECUTE/fifo CUSTOM/ CUSTOM/"
	if got != want {
		t.Errorf("order\n got %s\nwant %s", got, want)
	}
	call.Hangup("")
	c.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })
	<-call.Done()
	if call.HangupCause() != "NORMAL_CLEARING" {
		t.Errorf("cause %q", call.HangupCause())
	}
}

func TestCommandBodyAndHeadersCaseInsensitive(t *testing.T) {
	call, c := startCall(t, Script{})
	c.cmd("connect")
	c.cmd("myevents")
	arg := "long_var=with spaces"
	raw := "sendmsg\ncall-command: execute\nexecute-app-name: set\nevent-uuid: abc\ncontent-type: text/plain\ncontent-length: " + strconv.Itoa(len(arg)) + "\n\n" + arg
	if _, err := c.conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	c.reply()
	done := c.until(isEvent("CHANNEL_EXECUTE_COMPLETE", "set"))
	if done.ev("Application-UUID") != "abc" || done.ev("variable_long_var") != "with spaces" {
		t.Errorf("uuid %q var %q", done.ev("Application-UUID"), done.ev("variable_long_var"))
	}
	c.conn.Close()
	<-call.Done()
}

func TestReadCommandRejectsGarbage(t *testing.T) {
	for _, in := range []string{"sendmsg\ncontent-length: x\n\n", "a\ncontent-length: 99999999\n\n"} {
		if _, err := readCommand(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("%q: want error", in)
		}
	}
}

func TestHangupRightAfterConnect(t *testing.T) {
	call, c := startCall(t, Script{HangupAt: &HangupPoint{Cause: "ORIGINATOR_CANCEL"}})
	notice := c.next() // nothing subscribed: only the closing notice
	if notice.get("Content-Disposition") != "disconnect" || notice.get("Controlled-Session-UUID") != call.UUID() {
		t.Errorf("notice %+v", notice.headers)
	}
	<-call.Done()
	if call.HangupCause() != "ORIGINATOR_CANCEL" || !call.Disconnected() {
		t.Errorf("cause %q disconnected %v", call.HangupCause(), call.Disconnected())
	}
	if v := call.Variables()["hangup_cause"]; v != "ORIGINATOR_CANCEL" {
		t.Errorf("hangup_cause var %q", v)
	}
	if n := len(call.Commands()); n != 0 {
		t.Errorf("%d commands recorded", n)
	}
}
