package esltest

import (
	"strings"
	"testing"
)

// fsivrSetup sends what esl.Server sends after connect.
func fsivrSetup(c *rawClient) {
	c.cmd("connect")
	c.cmd("myevents")
	c.cmd("linger")
	c.cmd("event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF CUSTOM fifo::info")
}

// untilNotice reads until the linger (or disconnect) notice.
func untilNotice(c *rawClient) *msg {
	return c.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })
}

// Issue 16 item 1: another party transfers the channel while a menu runs
// (uuid_transfer <uuid> fifo_sales XML new_sales). FreeSWITCH ends the
// menu, whose completion already carries the new destination and context,
// then the socket app itself completes, and the caller is queued.
func TestExternalTransferEndsMenuAndSocketApp(t *testing.T) {
	for _, via := range []string{"Call.Transfer", "api uuid_transfer"} {
		t.Run(via, func(t *testing.T) {
			call, c := startCall(t, Script{PlaybackDuration: 1 << 40})
			fsivrSetup(c)
			id := newUUID()
			c.cmd(execute("play_and_get_digits", "1 1 3 5000 # menu.wav invalid.wav menu_number [1-5]", id))
			c.until(isEvent("CHANNEL_EXECUTE", "play_and_get_digits"))
			if via == "Call.Transfer" {
				call.Transfer("fifo_sales", "new_sales")
			} else {
				c.send("api uuid_transfer " + call.UUID() + " fifo_sales XML new_sales")
				if r := c.until(func(m *msg) bool { return m.get("Content-Type") == "api/response" }); r.body != "+OK\n" {
					t.Fatalf("uuid_transfer: %q", r.body)
				}
			}
			push := c.until(func(m *msg) bool { return m.ev("FIFO-Action") == "push" })
			var menu, socket *msg
			var order []string
			for _, m := range c.seen {
				if n := m.ev("Event-Name"); n != "" {
					order = append(order, eventKey(m))
				}
				if m.ev("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" && m.ev("Application-UUID") == id {
					menu = m
				}
				if m.ev("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" && m.ev("Application") == "socket" {
					socket = m
				}
			}
			wantOrder := "CHANNEL_EXECUTE_COMPLETE/play_and_get_digits CHANNEL_UNPARK/ CHANNEL_EXECUTE_COMPLETE/socket CHANNEL_STATE/ CHANNEL_STATE/ CHANNEL_EXECUTE/fifo CUSTOM/"
			if s := strings.Join(order, " "); !strings.HasSuffix(s, wantOrder) {
				t.Errorf("events\n got %s\nwant ... %s", s, wantOrder)
			}
			if menu == nil || socket == nil {
				t.Fatalf("menu completion %v, socket completion %v", menu != nil, socket != nil)
			}
			if menu.ev("Caller-Destination-Number") != "fifo_sales" || menu.ev("Caller-Context") != "new_sales" {
				t.Errorf("menu completion: destination %q context %q, want the new ones", menu.ev("Caller-Destination-Number"), menu.ev("Caller-Context"))
			}
			if menu.ev("variable_read_result") != "failure" || menu.ev("variable_menu_number") != "" {
				t.Errorf("interrupted menu: read_result %q menu_number %q", menu.ev("variable_read_result"), menu.ev("variable_menu_number"))
			}
			if push.ev("FIFO-Name") != "fifo_sales" || push.ev("FIFO-Slot") != "0" {
				t.Errorf("push: FIFO-Name %q FIFO-Slot %q", push.ev("FIFO-Name"), push.ev("FIFO-Slot"))
			}
			// The flow is over, but what is still sent runs in the queue,
			// as on the real switch: a hangup there hangs up a caller
			// waiting for an agent.
			pb := newUUID()
			if got := c.cmd(execute("playback", "new_sales/9003.wav", pb)); got != "+OK" {
				t.Errorf("sendmsg after the transfer: %q", got)
			}
			played := c.until(func(m *msg) bool {
				return m.ev("Event-Name") == "CHANNEL_EXECUTE" && m.ev("Application-UUID") == pb
			})
			if played.ev("Caller-Destination-Number") != "fifo_sales" {
				t.Errorf("playback after the transfer ran at %q, want in the queue", played.ev("Caller-Destination-Number"))
			}
			c.cmd("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
			untilNotice(c)
			if call.HangupCause() != "NORMAL_CLEARING" {
				t.Errorf("hangup sent after the transfer: cause %q, want the queued caller hung up", call.HangupCause())
			}
			if got := eventOrderAfter(c.seen, "CHANNEL_HANGUP"); !strings.HasPrefix(got, "CHANNEL_HANGUP/ CHANNEL_EXECUTE_COMPLETE/playback CUSTOM/ CHANNEL_EXECUTE_COMPLETE/fifo") {
				t.Errorf("hangup in the queue: %s", got)
			}
		})
	}
}

// The drain hand-over: a transfer executed while a menu runs ends the menu
// at once (it does not wait for the menu's tries).
func TestTransferExecuteEndsRunningApp(t *testing.T) {
	_, c := startCall(t, Script{PlaybackDuration: 1 << 40})
	fsivrSetup(c)
	c.cmd(execute("play_and_get_digits", "1 1 3 5000 # menu.wav invalid.wav menu_number [1-5]", newUUID()))
	c.until(isEvent("CHANNEL_EXECUTE", "play_and_get_digits"))
	c.cmd(execute("transfer", "fifo_sales XML new_sales", newUUID()))
	c.until(func(m *msg) bool { return m.ev("FIFO-Action") == "push" })
	got := eventOrderAfter(c.seen, "CHANNEL_EXECUTE_COMPLETE")
	want := "CHANNEL_EXECUTE_COMPLETE/transfer CHANNEL_EXECUTE_COMPLETE/play_and_get_digits CHANNEL_UNPARK/ CHANNEL_EXECUTE_COMPLETE/socket CHANNEL_STATE/ CHANNEL_STATE/ CHANNEL_EXECUTE/fifo CUSTOM/"
	if got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
}

// mod_fifo (fifo_function): a caller who hangs up while waiting leaves with
// FIFO-Action abort; the socket app ended at the transfer, so there is no
// second CHANNEL_UNPARK (the real switch's order; the fake used to send
// one).
func TestQueuedCallerHangupAbortsWithoutUnpark(t *testing.T) {
	call, c := startCall(t, Script{})
	fsivrSetup(c)
	c.cmd(execute("transfer", "fifo_sales XML new_sales", newUUID()))
	c.until(func(m *msg) bool { return m.ev("FIFO-Action") == "push" })
	call.Hangup("")
	untilNotice(c)
	got := eventOrderAfter(c.seen, "CHANNEL_HANGUP")
	want := "CHANNEL_HANGUP/ CUSTOM/ CHANNEL_EXECUTE_COMPLETE/fifo CHANNEL_STATE/ CHANNEL_STATE/ CHANNEL_HANGUP_COMPLETE/ text/disconnect-notice/linger"
	if got != want {
		t.Errorf("hangup in the queue\n got %s\nwant %s", got, want)
	}
	for _, m := range c.seen {
		if m.ev("Event-Name") == "CUSTOM" && m.ev("FIFO-Action") == "abort" {
			if m.ev("FIFO-Name") != "fifo_sales" || m.ev("variable_fifo_status") != "ABORTED" {
				t.Errorf("abort: FIFO-Name %q fifo_status %q", m.ev("FIFO-Name"), m.ev("variable_fifo_status"))
			}
			for _, h := range m.event {
				if strings.HasPrefix(h.name, "FIFO-Caller") || strings.HasPrefix(h.name, "FIFO-Consumer") {
					t.Errorf("abort carries %s; mod_fifo's has only FIFO-Name and FIFO-Action", h.name)
				}
			}
			return
		}
	}
	t.Error("no fifo abort event")
}

// An agent takes the queued caller (bridge-caller-start, no consumer
// numbers), then the caller hangs up (bridge-caller-stop with times).
func TestBridgedFifoCallerHangup(t *testing.T) {
	call, c := startCall(t, Script{FifoBridge: true})
	fsivrSetup(c)
	c.cmd(execute("transfer", "fifo_sales XML new_sales", newUUID()))
	c.until(func(m *msg) bool { return m.ev("FIFO-Action") == "bridge-caller-start" })
	call.Hangup("")
	stop := c.until(func(m *msg) bool { return m.ev("FIFO-Action") == "bridge-caller-stop" })
	if stop.ev("FIFO-Caller-Talk-Time-ms") == "" {
		t.Errorf("bridge-caller-stop without talk time: %v", names(stop.event))
	}
	untilNotice(c)
}

// s1b_outbound_transfer: after `transfer park XML default` the
// completion of the transfer carries the new destination, and a hangup in
// the park unparks that park (one CHANNEL_UNPARK, the dialplan's).
func TestTransferToParkMatchesCapture(t *testing.T) {
	real := parseAll(t, fixture(t, "s1b_outbound_transfer.rx.bin"))
	call, c := startCall(t, Script{})
	fsivrSetup(c)
	id := newUUID()
	c.cmd(execute("transfer", "park XML default", id))
	c.until(isEvent("CHANNEL_PARK", ""))
	call.Hangup("")
	untilNotice(c)
	for _, m := range c.seen {
		if m.ev("Application-UUID") == id && m.ev("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" && m.ev("Caller-Destination-Number") != "park" {
			t.Errorf("transfer completion: Caller-Destination-Number %q, want park", m.ev("Caller-Destination-Number"))
		}
	}
	if got, want := eventOrderAfter(c.seen, "CHANNEL_HANGUP"), eventOrderAfter(real, "CHANNEL_HANGUP"); got != want {
		t.Errorf("hangup in the park\n got %s\nwant %s", got, want)
	}
}
