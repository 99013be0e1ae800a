package amitest

import (
	"fmt"
	"testing"
	"time"
)

// firstEvent returns the first captured server message with that Event.
func firstEvent(t *testing.T, caps []captured, name string) captured {
	t.Helper()
	for _, m := range caps {
		if m.Dir == "S->C" && m.get("Event") == name {
			return m
		}
	}
	t.Fatalf("no %s in capture", name)
	return captured{}
}

// Waiting callers have the shapes of 63_*: QueueCallerJoin, QueueEntry
// items and counts in QueueStatus/QueueSummary, QueueCallerAbandon then
// QueueCallerLeave; a Hangup of a waiting caller abandons the queue.
func TestQueueCallers(t *testing.T) {
	caps := loadCapture(t, "63_queue_caller_abandon_and_ringnoanswer")
	srv := NewServer(Config{Queues: []Queue{{Name: "abandonq"}}})
	defer srv.Close()
	c := login(t, srv, "agent")
	for _, qc := range []QueueCaller{
		{Channel: "Local/5554444@customer-00000006;1", Uniqueid: "c63-a", CallerIDNum: "5554444", CallerIDName: "Customer D"},
		{Channel: "Local/5554445@customer-00000008;1", Uniqueid: "c63-b", CallerIDNum: "5554445", CallerIDName: "Customer E"},
	} {
		if err := srv.JoinQueue("abandonq", qc); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.JoinQueue("nosuchq", QueueCaller{}); err != ErrNoSuchQueue {
		t.Errorf("join missing queue: %v", err)
	}
	join := c.mustRead(time.Second)
	if err := sameShape(firstEvent(t, caps, "QueueCallerJoin"), join); err != nil {
		t.Errorf("join: %v", err)
	}
	if m := c.mustRead(time.Second); m.get("Position") != "2" || m.get("Count") != "2" {
		t.Errorf("second join: %v", m.headers)
	}
	qs := c.action("Action: QueueStatus\r\nActionID: qs\r\nQueue: abandonq\r\n\r\n", "qs", true)
	if len(qs) != 5 {
		t.Fatalf("QueueStatus: %d messages, want reply, QueueParams, 2 QueueEntry, Complete", len(qs))
	}
	if err := sameNames(firstEvent(t, caps, "QueueParams"), qs[1]); err != nil || qs[1].get("Calls") != "2" {
		t.Errorf("QueueParams: %v Calls=%s", err, qs[1].get("Calls"))
	}
	if err := sameNames(firstEvent(t, caps, "QueueEntry"), qs[2]); err != nil || qs[3].get("Position") != "2" {
		t.Errorf("QueueEntry: %v, position %s", err, qs[3].get("Position"))
	}
	sum := c.action("Action: QueueSummary\r\nActionID: sum\r\nQueue: abandonq\r\n\r\n", "sum", true)
	if err := sameNames(firstEvent(t, caps, "QueueSummary"), sum[1]); err != nil || sum[1].get("Callers") != "2" {
		t.Errorf("QueueSummary: %v Callers=%s", err, sum[1].get("Callers"))
	}
	if err := srv.AbandonQueue("abandonq", "c63-a"); err != nil {
		t.Fatal(err)
	}
	if err := sameShape(firstEvent(t, caps, "QueueCallerAbandon"), c.mustRead(time.Second)); err != nil {
		t.Errorf("abandon: %v", err)
	}
	leave := c.mustRead(time.Second)
	if err := sameNames(firstEvent(t, caps, "QueueCallerLeave"), leave); err != nil || leave.get("Count") != "1" {
		t.Errorf("leave: %v Count=%s", err, leave.get("Count"))
	}
	if !srv.HangupChannel("c63-b", 16) {
		t.Fatal("hangup of the waiting caller")
	}
	if m := c.mustRead(time.Second); m.get("Event") != "QueueCallerAbandon" || m.get("Uniqueid") != "c63-b" {
		t.Errorf("hangup while waiting: %v", m.headers)
	}
	if n := srv.Channels(); n != 0 {
		t.Errorf("channels: %d", n)
	}
}

// A member answering a waiting caller gives the events of 62_* with their
// shapes: AgentCalled, VarSet MIXMONITOR_FILENAME, QueueCallerLeave,
// AgentConnect, AgentComplete, then QueueMemberStatus with CallsTaken 1.
func TestAnswerQueueCall(t *testing.T) {
	caps := loadCapture(t, "62_queue_call_answered_recorded")
	srv := NewServer(Config{Queues: []Queue{{Name: "support", Members: []Member{{Interface: "Local/510@agent/n", Name: "Alice"}}}}})
	defer srv.Close()
	c := login(t, srv, "on")
	if err := srv.JoinQueue("support", QueueCaller{Channel: "Local/5551234@customer-00000000;1", Uniqueid: "c62-a",
		CallerIDNum: "5551234", CallerIDName: "Customer A"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AnswerQueueCall("support", "c62-a", QueueAnswer{Interface: "Local/999@agent/n"}); err != ErrNoSuchMember {
		t.Errorf("unknown member: %v", err)
	}
	if err := srv.AnswerQueueCall("support", "c62-a", QueueAnswer{Interface: "Local/510@agent/n",
		Ring: 20 * time.Millisecond, Talk: 20 * time.Millisecond,
		Recording: "/opt/ast/var/spool/asterisk/monitor/c62-a.wav"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 7 {
		m := c.mustRead(2 * time.Second)
		e := m.get("Event")
		switch e {
		case "QueueCallerJoin", "AgentCalled", "QueueCallerLeave", "AgentConnect", "AgentComplete", "QueueMemberStatus":
		case "VarSet":
			if m.get("Variable") != "MIXMONITOR_FILENAME" {
				continue
			}
		default:
			continue
		}
		got = append(got, e)
		want := firstEvent(t, caps, e)
		if e == "VarSet" {
			for _, x := range caps {
				if x.get("Variable") == "MIXMONITOR_FILENAME" {
					want = x
					break
				}
			}
		}
		if err := sameNames(want, m); err != nil {
			t.Errorf("%v", err)
		}
		if e == "QueueMemberStatus" && (m.get("CallsTaken") != "1" || m.get("InCall") != "0") {
			t.Errorf("after the call: %v", m.headers)
		}
		if e == "VarSet" && m.get("Value") != "/opt/ast/var/spool/asterisk/monitor/c62-a.wav" {
			t.Errorf("recording %q", m.get("Value"))
		}
	}
	want := "[QueueCallerJoin AgentCalled VarSet QueueCallerLeave AgentConnect AgentComplete QueueMemberStatus]"
	if fmt.Sprint(got) != want {
		t.Errorf("events %v, want %s", got, want)
	}
}
