package esltest

import (
	"strconv"
	"testing"
	"time"
)

// The socket app's own park fires CHANNEL_PARK (Answer-State ringing)
// right after myevents, as in s1d_outbound_park_under_control (racy on the
// real switch; Script.NoInitialPark leaves it out).
func TestInitialParkAfterMyevents(t *testing.T) {
	real := parseAll(t, fixture(t, "s1d_outbound_park_under_control.rx.bin"))
	var realPark *msg
	for _, m := range real {
		if m.ev("Event-Name") == "CHANNEL_PARK" {
			realPark = m
			break
		}
	}
	_, c := startCall(t, Script{ChannelName: "loopback/ivr-b", OtherLegUUID: newUUID()})
	c.cmd("connect")
	c.cmd("myevents")
	park := c.next()
	if park.ev("Event-Name") != "CHANNEL_PARK" || park.ev("Answer-State") != "ringing" {
		t.Fatalf("after the myevents reply: %s %q, want CHANNEL_PARK ringing", eventKey(park), park.ev("Answer-State"))
	}
	if d := diffNames(names(withoutVars(realPark.event)), names(withoutVars(park.event))); d != "" {
		t.Errorf("CHANNEL_PARK header names (real | fake):\n%s", d)
	}

	_, quiet := startCall(t, Script{NoInitialPark: true})
	quiet.cmd("connect")
	quiet.cmd("myevents")
	if got := quiet.cmd("linger"); got != "+OK will linger" {
		t.Errorf("with NoInitialPark the next message is %q, want the linger reply", got)
	}
}

// FreeSWITCH runs a queued execute at the channel's next frame: its first
// event comes ~20 ms after the +OK (the captures). The fake waits
// Script.ExecuteDelay.
func TestExecuteDelay(t *testing.T) {
	const delay = 40 * time.Millisecond
	_, c := startCall(t, Script{ExecuteDelay: delay, NoInitialPark: true})
	c.cmd("connect")
	c.cmd("myevents")
	c.send(execute("answer", "", newUUID()))
	c.reply()
	replied := time.Now()
	c.until(isEvent("CHANNEL_EXECUTE", "answer"))
	if waited := time.Since(replied); waited < delay*3/4 { // lower bound only: the delay is a minimum
		t.Errorf("CHANNEL_EXECUTE %v after the +OK, want about %v", waited, delay)
	}
}

// mod_dptools' playback: DTMF during a plain playback is reported and
// dropped; a digit in playback_terminators (default "*") ends it with FILE
// PLAYED and sets playback_terminator_used.
func TestDTMFDuringPlayback(t *testing.T) {
	const d = 200 * time.Millisecond
	cases := []struct {
		name, digits, terminators string
		ends                      bool
	}{
		{"other digit dropped", "1", "", false},
		{"star ends by default", "*", "", true},
		{"terminators none", "*", "none", false},
		{"terminators any", "5", "any", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, c := startCall(t, Script{PlaybackDuration: d, PlaybackDigits: []string{tc.digits}})
			fsivrSetup(c)
			if tc.terminators != "" {
				c.cmd(execute("set", "playback_terminators="+tc.terminators, newUUID()))
				c.until(isEvent("CHANNEL_EXECUTE_COMPLETE", "set"))
			}
			id := newUUID()
			c.cmd(execute("playback", "new_sales/1000.wav", id))
			done := c.until(func(m *msg) bool {
				return m.ev("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" && m.ev("Application-UUID") == id
			})
			var dtmf *msg
			for _, m := range c.seen {
				if m.ev("Event-Name") == "DTMF" {
					dtmf = m
				}
			}
			if dtmf == nil || dtmf.ev("DTMF-Digit") != tc.digits {
				t.Fatalf("DTMF event %v, want digit %q", dtmf, tc.digits)
			}
			ms, _ := strconv.Atoi(done.ev("variable_playback_ms"))
			used := done.ev("variable_playback_terminator_used")
			if done.ev("Application-Response") != "FILE PLAYED" {
				t.Errorf("response %q", done.ev("Application-Response"))
			}
			if tc.ends && (used != tc.digits || ms >= int(d.Milliseconds())) {
				t.Errorf("terminated playback: playback_terminator_used %q, played %d ms of %v", used, ms, d)
			}
			if !tc.ends && (used != "" || ms != int(d.Milliseconds())) {
				t.Errorf("playback went on: playback_terminator_used %q, played %d ms of %v", used, ms, d)
			}
		})
	}
}

// Call.SendDTMF (uuid_send_dtmf) presses digits from outside.
func TestSendDTMF(t *testing.T) {
	call, c := startCall(t, Script{PlaybackDuration: 1 << 40})
	fsivrSetup(c)
	id := newUUID()
	c.cmd(execute("playback", "new_sales/1000.wav", id))
	c.until(isEvent("CHANNEL_EXECUTE", "playback"))
	call.SendDTMF("2*")
	done := c.until(func(m *msg) bool {
		return m.ev("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" && m.ev("Application-UUID") == id
	})
	if done.ev("variable_playback_terminator_used") != "*" {
		t.Errorf("playback_terminator_used %q", done.ev("variable_playback_terminator_used"))
	}
	var digits string
	for _, m := range c.seen {
		if m.ev("Event-Name") == "DTMF" {
			digits += m.ev("DTMF-Digit")
		}
	}
	if digits != "2*" {
		t.Errorf("DTMF events %q", digits)
	}
}
