package amitest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// sameNames compares only the header names and their order.
func sameNames(want captured, got msg) error {
	wn := make([]string, len(want.Headers))
	for i, h := range want.Headers {
		wn[i] = h[0]
	}
	if gn := names(got.headers); !slices.Equal(wn, gn) {
		return fmt.Errorf("%s: headers %v, want %v", want.kind(), gn, wn)
	}
	return nil
}

// capturedReply returns the server messages that answered the action with
// ActionID id in a capture (the reply and the list items / Complete).
func capturedReply(t *testing.T, caps []captured, id string) []captured {
	t.Helper()
	var out []captured
	for _, m := range caps {
		if m.Dir == "S->C" && m.get("ActionID") == id && m.get("Event") != "OriginateResponse" {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no captured reply for %s", id)
	}
	return out
}

// login logs a test client in with events off.
func login(t *testing.T, srv *Server, events string) *client {
	t.Helper()
	c := dial(t, srv.Addr)
	c.mustRead(time.Second) // banner
	c.write("Action: Login\r\nActionID: login\r\nUsername: dialer\r\nSecret: secret\r\nEvents: " + events + "\r\n\r\n")
	if m := c.mustRead(time.Second); m.get("Response") != "Success" {
		t.Fatalf("login: %v", m.headers)
	}
	return c
}

// action sends one action and returns every message carrying its ActionID
// up to the reply (or, for a list, its Complete event), skipping others.
func (c *client) action(text, id string, list bool) []msg {
	c.t.Helper()
	c.write(text)
	var out []msg
	for {
		m := c.mustRead(5 * time.Second)
		if m.get("ActionID") != id || m.get("Event") == "OriginateResponse" {
			continue
		}
		out = append(out, m)
		if !list || strings.HasSuffix(m.get("Event"), "Complete") {
			return out
		}
	}
}

// checkShapes compares, in order, the shape of what the fake answered with
// the capture's answer to the same kind of action: the reply, then every
// item (each checked against the captured item of the same event name).
func checkShapes(t *testing.T, label string, want []captured, got []msg) {
	t.Helper()
	if len(got) == 0 || len(want) == 0 {
		t.Fatalf("%s: nothing to compare (got %d, want %d)", label, len(got), len(want))
	}
	if err := sameNames(want[0], got[0]); err != nil {
		t.Errorf("%s reply: %v", label, err)
	}
	if w, g := want[0].get("Message"), got[0].get("Message"); w != g {
		t.Errorf("%s reply: Message %q, want %q", label, g, w)
	}
	byEvent := map[string]captured{}
	for _, w := range want[1:] {
		byEvent[w.get("Event")] = w
	}
	for _, g := range got[1:] {
		w, ok := byEvent[g.get("Event")]
		if !ok {
			t.Errorf("%s: unexpected %s", label, g.kind())
			continue
		}
		if err := sameNames(w, g); err != nil {
			t.Errorf("%s: %v", label, err)
		}
	}
	if wl, gl := want[len(want)-1], got[len(got)-1]; wl.get("EventList") != gl.get("EventList") {
		t.Errorf("%s: last message EventList %q, want %q", label, gl.get("EventList"), wl.get("EventList"))
	}
}

// The list actions, Command, Getvar/Setvar, Redirect and Hangup have the
// shapes of 30_lists_redirect_queueops: the same reply headers, the same
// item headers in the same order, EventList start/Complete with ListItems,
// delivered with events off.
func TestListActionShapes(t *testing.T) {
	caps := loadCapture(t, "30_lists_redirect_queueops")
	srv := NewServer(Config{
		Outcome: func(o Originate) Outcome { return Outcome{Kind: Answered, Script: "answer-wait", Hold: true} },
		Queues:  []Queue{{Name: "sales", Members: []Member{{Interface: "Local/400@test/n", Name: "Static400", Static: true}}}},
	})
	defer srv.Close()
	c := login(t, srv, "off")
	for i := range 2 {
		id := fmt.Sprintf("orig-%d", i)
		c.action("Action: Originate\r\nActionID: "+id+"\r\nChannel: Local/700@test\r\nContext: test\r\nExten: 700\r\nPriority: 1\r\nCallerID: \"Dialer\" <1234>\r\nTimeout: 30000\r\nAsync: true\r\nVariable: CALLID=c"+id+"\r\n\r\n", id, false)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Channels() < 4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Channels(); n != 4 {
		t.Fatalf("channels: %d, want 4", n)
	}

	// the held calls settle in Wait once their answered phase is played
	var got []msg
	for i := 0; ; i++ {
		got = c.action(fmt.Sprintf("Action: CoreShowChannels\r\nActionID: csc%d\r\n\r\n", i), fmt.Sprintf("csc%d", i), true)
		settled := len(got) == 6
		for _, m := range got[1 : len(got)-1] {
			settled = settled && m.get("Application") == "Wait"
		}
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkShapes(t, "CoreShowChannels", capturedReply(t, caps, "coreshowchannels-55dbdfb0"), got)
	if n := got[len(got)-1].get("ListItems"); n != "4" {
		t.Errorf("CoreShowChannels ListItems %s, want 4", n)
	}
	var chan2 string
	for _, m := range got[1 : len(got)-1] {
		if strings.HasSuffix(m.get("Channel"), ";2") && chan2 == "" {
			chan2 = m.get("Channel")
		}
		if m.get("ChannelStateDesc") != "Up" || m.get("Application") != "Wait" {
			t.Errorf("CoreShowChannel %s: state %q app %q, want Up and Wait: %v", m.get("Channel"), m.get("ChannelStateDesc"), m.get("Application"), m.headers)
		}
	}

	checkShapes(t, "Status", capturedReply(t, caps, "status-7c0a1545"),
		c.action("Action: Status\r\nActionID: st\r\n\r\n", "st", true))
	checkShapes(t, "Status missing", capturedReply(t, caps, "status-0b931c72"),
		c.action("Action: Status\r\nActionID: st2\r\nChannel: Local/does-not-exist;1\r\n\r\n", "st2", false))
	checkShapes(t, "QueueStatus", capturedReply(t, caps, "queuestatus-0b86db2f"),
		c.action("Action: QueueStatus\r\nActionID: qs\r\n\r\n", "qs", true))
	checkShapes(t, "QueueStatus missing", capturedReply(t, caps, "queuestatus-b74f2ebe"),
		c.action("Action: QueueStatus\r\nActionID: qs2\r\nQueue: nosuchqueue\r\n\r\n", "qs2", true))
	checkShapes(t, "QueueSummary", capturedReply(t, caps, "queuesummary-29a356b0"),
		c.action("Action: QueueSummary\r\nActionID: qsum\r\n\r\n", "qsum", true))
	cmd := c.action("Action: Command\r\nActionID: cmd\r\nCommand: core show channels concise\r\n\r\n", "cmd", false)
	checkShapes(t, "Command", capturedReply(t, caps, "command-6e5f56da"), cmd)
	if n := len(allValues(cmd[0], "Output")); n != 4 {
		t.Errorf("Command: %d Output lines, want 4", n)
	}
	checkShapes(t, "Command bad", capturedReply(t, caps, "command-f3ebf2ff"),
		c.action("Action: Command\r\nActionID: cmd2\r\nCommand: no such cli command\r\n\r\n", "cmd2", false))
	if got := c.action("Action: Command\r\nActionID: cmd3\r\nCommand: no such cli command\r\n\r\n", "cmd3", false)[0].get("Output"); got != capturedReply(t, caps, "command-f3ebf2ff")[0].get("Output") {
		t.Errorf("bad Command output %q", got)
	}
	gv := c.action("Action: Getvar\r\nActionID: gv\r\nChannel: "+chan2+"\r\nVariable: CALLID\r\n\r\n", "gv", false)
	checkShapes(t, "Getvar", capturedReply(t, caps, "getvar-1a0740b1"), gv)
	if v := gv[0].get("Value"); !strings.HasPrefix(v, "corig-") {
		t.Errorf("Getvar CALLID on %s = %q, want the Originate's value", chan2, v)
	}
	checkShapes(t, "Getvar global", capturedReply(t, caps, "getvar-860e3cd4"),
		c.action("Action: Getvar\r\nActionID: gv2\r\nVariable: CALLID\r\n\r\n", "gv2", false))
	checkShapes(t, "Setvar", capturedReply(t, caps, "setvar-6a565cca"),
		c.action("Action: Setvar\r\nActionID: sv\r\nChannel: "+chan2+"\r\nVariable: DIALER_TAG\r\nValue: x1\r\n\r\n", "sv", false))
	if v := c.action("Action: Getvar\r\nActionID: gv3\r\nChannel: "+chan2+"\r\nVariable: DIALER_TAG\r\n\r\n", "gv3", false)[0].get("Value"); v != "x1" {
		t.Errorf("Getvar after Setvar = %q, want x1", v)
	}
	checkShapes(t, "Redirect", capturedReply(t, caps, "redirect-f975b523"),
		c.action("Action: Redirect\r\nActionID: rd\r\nChannel: "+chan2+"\r\nContext: test\r\nExten: 800\r\nPriority: 1\r\n\r\n", "rd", false))
	checkShapes(t, "Redirect missing", capturedReply(t, caps, "redirect-0b58bca5"),
		c.action("Action: Redirect\r\nActionID: rd2\r\nChannel: Local/nope-00000099;2\r\nContext: test\r\nExten: 800\r\nPriority: 1\r\n\r\n", "rd2", false))
	if m := c.action("Action: Redirect\r\nActionID: rd3\r\nChannel: Local/nope-00000099;2\r\nContext: test\r\nExten: 800\r\nPriority: 1\r\n\r\n", "rd3", false)[0]; m.get("Message") != "Channel does not exist: Local/nope-00000099;2" {
		t.Errorf("Redirect missing: %q", m.get("Message"))
	}
	checkShapes(t, "Hangup", capturedReply(t, caps, "hangup-920976cc"),
		c.action("Action: Hangup\r\nActionID: hu\r\nChannel: "+chan2+"\r\nCause: 16\r\n\r\n", "hu", false))
	if n := srv.Channels(); n != 2 {
		t.Errorf("channels after Hangup: %d, want 2", n)
	}
	checkShapes(t, "Hangup missing", capturedReply(t, caps, "hangup-64407694"),
		c.action("Action: Hangup\r\nActionID: hu2\r\nChannel: Local/none-00000000;1\r\n\r\n", "hu2", false))
}

func allValues(m msg, name string) []string {
	var out []string
	for _, h := range m.headers {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

// Park answers with the captured bare-LF replies and error texts (64_*),
// and the parked call gives a ParkedCall event of the captured shape.
func TestPark(t *testing.T) {
	caps := loadCapture(t, "64_park_and_announce")
	srv := NewServer(Config{Outcome: func(Originate) Outcome {
		return Outcome{Kind: Answered, Script: "answer-wait", Hold: true}
	}})
	defer srv.Close()
	c := login(t, srv, "call")
	c.write("Action: Originate\r\nActionID: o\r\nChannel: Local/740@parktest\r\nContext: parktest\r\nExten: 740\r\nAsync: true\r\nChannelId: pk-c\r\n\r\n")
	for c.mustRead(2*time.Second).get("Event") != "OriginateResponse" {
	}
	wantReply := func(id string) captured {
		for _, m := range caps {
			if m.Dir == "S->C" && m.get("ActionID") == id && m.get("Response") != "" {
				return m
			}
		}
		t.Fatalf("no reply %s in capture", id)
		return captured{}
	}
	check := func(action, id, capID string) msg {
		t.Helper()
		got := c.action(action, id, false)[0]
		if err := sameShape(wantReply(capID), got); err != nil {
			t.Errorf("%s: %v", id, err)
		}
		return got
	}
	ok := check("Action: Park\r\nActionID: park-bbdd5e56\r\nChannel: pk-c;2\r\nTimeout: 60000\r\n\r\n", "park-bbdd5e56", "park-bbdd5e56")
	if !strings.HasSuffix(ok.raw, "Park successful\n\r\n") {
		t.Errorf("Park reply %q, want the bare LF after the Message", ok.raw)
	}
	var parked msg
	for parked.headers == nil {
		if m := c.mustRead(time.Second); m.get("Event") == "ParkedCall" {
			parked = m
		}
	}
	if err := sameNames(firstEvent(t, caps, "ParkedCall"), parked); err != nil {
		t.Errorf("ParkedCall: %v", err)
	}
	if parked.get("ParkingSpace") != "701" || parked.get("ParkeeUniqueid") != "pk-c;2" || parked.get("ParkingTimeout") != "60" {
		t.Errorf("ParkedCall values: %v", parked.headers)
	}
	check("Action: Park\r\nActionID: park-e6bee040\r\nChannel: Local/nosuch@parktest-00000000;2\r\n\r\n", "park-e6bee040", "park-e6bee040")
	check("Action: Park\r\nActionID: park-5cfe08d0\r\n\r\n", "park-5cfe08d0", "park-5cfe08d0")
	check("Action: Park\r\nActionID: park-899317d3\r\nChannel: pk-c;2\r\nParkinglot: nosuchlot\r\n\r\n", "park-899317d3", "park-899317d3")
	check("Action: Park\r\nActionID: park-b5c0e58a\r\nChannel: pk-c;2\r\nTimeout: abc\r\n\r\n", "park-b5c0e58a", "park-b5c0e58a")
}

// ExtensionStateList, DeviceStateList, ExtensionState and DEVICE_STATE
// changes have the shapes and texts of 60_*: list items with the ActionID
// second and no Privilege, Status -1 Unknown for a missing hint, the reply
// before the events, no event when the state does not change, an invalid
// state refused.
func TestDeviceAndHintStates(t *testing.T) {
	caps := loadCapture(t, "60_hints_extensionstatus")
	srv := NewServer(Config{
		Hints: []Hint{{Exten: "500", Context: "agents", Hint: "Custom:agent500"},
			{Exten: "501", Context: "agents", Hint: "Custom:agent501&Custom:agent501b"}},
		Devices: []Device{{Name: "Custom:agent500", State: "NOT_INUSE"}, {Name: "Custom:agent501", State: "NOT_INUSE"},
			{Name: "Custom:agent501b", State: "NOT_INUSE"}},
	})
	defer srv.Close()
	c := login(t, srv, "off")
	checkShapes(t, "ExtensionStateList", capturedReply(t, caps, "extensionstatelist-before-2619df61"),
		c.action("Action: ExtensionStateList\r\nActionID: esl\r\n\r\n", "esl", true))
	checkShapes(t, "DeviceStateList", capturedReply(t, caps, "devicestatelist-before-1051033c"),
		c.action("Action: DeviceStateList\r\nActionID: dsl\r\n\r\n", "dsl", true))
	for _, tc := range []struct{ action, capID string }{
		{"Exten: 500\r\nContext: agents", "extensionstate-acfa1387"},
		{"Exten: 999\r\nContext: agents", "extensionstate-e2100292"},
		{"Exten: 500\r\nContext: nosuchcontext", "extensionstate-deb554eb"},
	} {
		got := c.action("Action: ExtensionState\r\nActionID: "+tc.capID+"\r\n"+tc.action+"\r\n\r\n", tc.capID, false)[0]
		if err := sameShape(capturedReply(t, caps, tc.capID)[0], got); err != nil {
			t.Errorf("ExtensionState %s: %v", tc.action, err)
		}
	}
	ev := login(t, srv, "on")
	for ev.mustRead(time.Second).get("Event") != "SuccessfulAuth" {
	}
	set := func(dev, state string) msg {
		return c.action("Action: Setvar\r\nActionID: sv\r\nVariable: DEVICE_STATE("+dev+")\r\nValue: "+state+"\r\n\r\n", "sv", false)[0]
	}
	if m := set("Custom:agent501", "INUSE"); m.get("Message") != "Variable Set" {
		t.Fatalf("Setvar: %v", m.headers)
	}
	set("Custom:agent501b", "RINGING")
	var statuses []string
	sawDevice := false
	for len(statuses) < 2 || !sawDevice {
		switch m := ev.mustRead(time.Second); {
		case m.get("Event") == "ExtensionStatus":
			statuses = append(statuses, m.get("Status")+" "+m.get("StatusText"))
		case m.get("Device") == "Custom:agent501b":
			sawDevice = true
		}
	}
	if fmt.Sprint(statuses) != "[1 InUse 9 InUse&Ringing]" {
		t.Errorf("two-device hint: %v, want InUse then InUse&Ringing (60_*)", statuses)
	}
	set("Custom:agent501b", "RINGING") // the same state again: no event
	if m := set("Custom:agent500", "FOO"); m.get("Response") != "Error" || m.get("Message") != "Variable not set" {
		t.Errorf("invalid state: %v", m.headers)
	}
	ev.write("Action: Ping\r\nActionID: end\r\n\r\n")
	if m := ev.mustRead(time.Second); m.get("ActionID") != "end" {
		t.Errorf("event after setting the same state: %v", m.headers)
	}
	if v := c.action("Action: Getvar\r\nActionID: gv\r\nVariable: DEVICE_STATE(Custom:agent501b)\r\n\r\n", "gv", false)[0].get("Value"); v != "RINGING" {
		t.Errorf("Getvar DEVICE_STATE = %q", v)
	}
}
