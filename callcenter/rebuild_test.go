package callcenter

import (
	"reflect"
	"testing"
)

// Rebuilding from QueueStatus lists captured at different moments of 61
// emits exactly the differences, and nothing when nothing changed.
func TestRebuildEmitsOnlyDifferences(t *testing.T) {
	ms := loadCapture(t, "61_queue_members_pause_add_remove")
	m := NewModel(ModelConfig{})
	first := m.Rebuild(listItems(ms, "queuestatus-two-members"))
	want := []Event{
		{Type: TypeAgentName, Agent: "500", Name: "Agent Smith"},
		{Type: TypeAgentName, Agent: "501", Name: "Agent Jones"},
		{Type: TypeQueueMemberStatus, Agent: "500", Queue: "agentsq", Status: "not_inuse"},
		{Type: TypeQueueMemberStatus, Agent: "501", Queue: "agentsq", Status: StatusPaused, PausedReason: "not logged in yet", PausedSince: 1796112588},
		{Type: TypeQueueCount, Queue: "agentsq", Count: 0},
	}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("first rebuild:\n got %+v\nwant %+v", first, want)
	}
	if !reflect.DeepEqual(m.Facts(), sorted(want)) {
		t.Errorf("Facts = %+v", m.Facts())
	}
	if again := m.Rebuild(listItems(ms, "queuestatus-two-members")); len(again) != 0 {
		t.Errorf("same lists again emitted %+v", again)
	}
	paused := m.Rebuild(listItems(ms, "queuestatus-paused"))
	if !reflect.DeepEqual(paused, []Event{{Type: TypeQueueMemberStatus, Agent: "500", Queue: "agentsq", Status: StatusPaused, PausedReason: "lunch", PausedSince: 1796112593}}) {
		t.Errorf("paused rebuild = %+v", paused)
	}
	gone := m.Rebuild(listItems(ms, "queuestatus-empty"))
	if !reflect.DeepEqual(gone, []Event{
		{Type: TypeQueueMemberStatus, Agent: "500", Queue: "agentsq", Status: StatusLoggedOff},
		{Type: TypeQueueMemberStatus, Agent: "501", Queue: "agentsq", Status: StatusLoggedOff},
	}) {
		t.Errorf("members gone: %+v", gone)
	}
}

// Callers waiting in QueueStatus (QueueEntry, 63) are the queue's calls;
// a call in progress survives a rebuild only while its channels are up.
func TestRebuildCallsAndChannels(t *testing.T) {
	ms := loadCapture(t, "63_queue_caller_abandon_and_ringnoanswer")
	m := NewModel(ModelConfig{})
	m.Rebuild(listItems(ms, "queuestatus-waiting"))
	q := m.View().Queues["abandonq"]
	if q.Count != 2 || len(q.Callers) != 2 || q.Callers[0].UniqueID != "c63-a" || q.Callers[1].Number != "5554445" {
		t.Fatalf("abandonq = %+v", q)
	}
	// an agent on a call, then a rebuild where its channels are gone
	m.Apply(fields("Event", "QueueMemberAdded", "Queue", "abandonq", "Interface", "Local/520@agent/n", "MemberName", "Carol", "Status", "1", "Paused", "0"))
	m.Apply(fields("Event", "AgentConnect", "Queue", "abandonq", "Interface", "Local/520@agent/n", "Uniqueid", "c63-a",
		"Channel", "Local/5554444@customer-00000006;1", "DestChannel", "Local/520@agent-00000007;1", "CallerIDNum", "5554444"))
	member := fields("Event", "QueueMember", "Queue", "abandonq", "Location", "Local/520@agent/n", "Name", "Carol", "Status", "2", "Paused", "0", "InCall", "1")
	kept := m.Rebuild([]Fields{member, fields("Event", "CoreShowChannel", "Channel", "Local/520@agent-00000007;1", "Uniqueid", "x")})
	for _, e := range kept {
		if e.Type == TypePhoneNumber {
			t.Errorf("call still up, yet %+v", e)
		}
	}
	if _, _, ok := m.CallOf("520"); !ok {
		t.Error("call forgotten while its channel is up")
	}
	ended := m.Rebuild([]Fields{member})
	if len(ofType(ended, TypePhoneNumber)) != 1 || ofType(ended, TypePhoneNumber)[0].Number != "" {
		t.Errorf("call gone: %+v", ended)
	}
}

// An originate whose channels vanished while the link was down is
// reported failed ("lost"), never left hanging.
func TestRebuildLostOriginate(t *testing.T) {
	m := NewModel(ModelConfig{})
	m.TrackOriginate(Originate{ID: "a1", ChannelID: "cc-1", Owner: "tok"})
	m.TrackOriginate(Originate{ID: "a2", ChannelID: "cc-2", Owner: "tok"})
	evs := m.Rebuild([]Fields{fields("Event", "CoreShowChannel", "Channel", "Local/530@agent-01;1", "Uniqueid", "cc-2", "Linkedid", "cc-2")})
	if !reflect.DeepEqual(evs, []Event{{Type: TypeOriginateFailed, ActionID: "a1", Reason: "lost", Owner: "tok"}}) {
		t.Errorf("events = %+v", evs)
	}
}

func sorted(evs []Event) []Event {
	out := append([]Event(nil), evs...)
	sortEvents(out)
	return out
}

// A queue call that began while the link was down: the member is InCall
// in QueueStatus, and CoreShowChannels shows its channel's connected line
// and bridge peer (the shapes of 67's channels).
func TestRebuildCallBegunWhileDown(t *testing.T) {
	m := NewModel(ModelConfig{})
	evs := m.Rebuild([]Fields{
		fields("Event", "QueueMember", "Queue", "support", "Name", "Alice", "Location", "Local/510@agent/n",
			"StateInterface", "Local/510@agent/n", "Status", "2", "Paused", "0", "InCall", "1"),
		fields("Event", "CoreShowChannel", "Channel", "Local/510@agent-0000001d;1", "Uniqueid", "1796112717.62",
			"ConnectedLineNum", "5557777", "ConnectedLineName", "Customer J", "BridgeId", "b-1"),
		fields("Event", "CoreShowChannel", "Channel", "Local/5557777@customer-0000001c;1", "Uniqueid", "c67-d", "BridgeId", "b-1"),
		fields("Event", "CoreShowChannel", "Channel", "Local/511@agent-00000001;1", "Uniqueid", "x", "ConnectedLineNum", "1"),
	})
	phones := ofType(evs, TypePhoneNumber)
	if len(phones) != 1 || phones[0] != (Event{Type: TypePhoneNumber, Agent: "510", Number: "5557777", Name: "Customer J", CallQueue: "support"}) {
		t.Errorf("phoneNumber = %+v", phones)
	}
	caller, agentCh, ok := m.CallOf("510")
	if !ok || caller != "Local/5557777@customer-0000001c;1" || agentCh != "Local/510@agent-0000001d;1" {
		t.Errorf("CallOf = %q %q %v", caller, agentCh, ok)
	}
}
