package callcenter

import (
	"strings"
	"testing"
	"time"
)

func TestFilterRule(t *testing.T) {
	sub := Scope{Agents: []string{"500", "510"}, Queues: []string{"support"}}
	wall := Scope{Agents: []string{Any}, Queues: []string{Any}}
	none := Scope{}
	cases := []struct {
		name string
		ev   Event
		sub  Scope
		want bool
	}{
		{"agent event, agent listed", Event{Type: TypeAgentName, Agent: "500"}, sub, true},
		{"agent event, agent not listed", Event{Type: TypeAgentName, Agent: "501"}, sub, false},
		{"extensionStatus is agent-scoped", Event{Type: TypeExtensionStatus, Agent: "510"}, sub, true},
		{"both scopes, both listed", Event{Type: TypeQueueMemberStatus, Agent: "500", Queue: "support"}, sub, true},
		{"both scopes, queue not listed", Event{Type: TypeQueueMemberStatus, Agent: "500", Queue: "sales"}, sub, false},
		{"both scopes, agent not listed", Event{Type: TypeQueueMemberStatus, Agent: "999", Queue: "support"}, sub, false},
		{"queue event, queue listed", Event{Type: TypeQueueCount, Queue: "support"}, sub, true},
		{"queue event, queue not listed", Event{Type: TypeQueueCount, Queue: "sales"}, sub, false},
		{"phoneNumber's queue is a detail, not a scope", Event{Type: TypePhoneNumber, Agent: "500", Number: "1", CallQueue: "sales"}, sub, true},
		{"agentComplete is agent-scoped", Event{Type: TypeAgentComplete, Agent: "501"}, sub, false},
		{"no scope reaches everyone", Event{Type: TypeOriginateFailed, ActionID: "x"}, none, true},
		{"stale reaches everyone", Event{Type: TypeStale}, none, true},
		{"empty lists see no scoped event", Event{Type: TypeQueueCount, Queue: "support"}, none, false},
		{"wildcard agents and queues", Event{Type: TypeQueueMemberStatus, Agent: "7", Queue: "q"}, wall, true},
	}
	for _, c := range cases {
		if got := c.sub.Allows(&c.ev); got != c.want {
			t.Errorf("%s: Allows = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestScopeWithinAndParse(t *testing.T) {
	tok := Scope{Agents: []string{"500", "501"}, Queues: []string{"support"}}
	if ok, _ := (Scope{Agents: []string{"500"}, Queues: []string{"support"}}).Within(tok); !ok {
		t.Error("subset refused")
	}
	if ok, what := (Scope{Agents: []string{"510"}}).Within(tok); ok || what != "agent 510" {
		t.Errorf("outside agent: %v %q", ok, what)
	}
	if ok, what := (Scope{Queues: []string{Any}}).Within(tok); ok || what != "queue *" {
		t.Errorf("wildcard beyond the token: %v %q", ok, what)
	}
	if ok, _ := (Scope{Agents: []string{"9"}, Queues: []string{Any}}).Within(Scope{Agents: []string{Any}, Queues: []string{Any}}); !ok {
		t.Error("admin token refused")
	}
	s, err := ParseScope("510, 500,500", "support")
	if err != nil || len(s.Agents) != 2 || s.Agents[0] != "500" || s.Queues[0] != "support" {
		t.Errorf("ParseScope = %+v, %v", s, err)
	}
	for _, bad := range []string{"a|b", "a\r\nAction: Logoff", "a b", string(make([]byte, 81)), strings.Repeat("a,", 5001)} {
		if _, err := ParseScope(bad, ""); err == nil {
			t.Errorf("ParseScope(%q) accepted", bad)
		}
	}
}

// The hub delivers by index: each subscriber gets exactly the events its
// scope allows, a resumed subscriber exactly what it missed.
func TestHubDeliveryAndResume(t *testing.T) {
	now := time.Unix(1796112600, 0)
	h := NewHub(HubConfig{Now: func() time.Time { return now }, Retention: time.Minute})
	a, _ := h.Subscribe(Scope{Agents: []string{"500"}, Queues: []string{"support"}}, "t1", "")
	b, _ := h.Subscribe(Scope{Agents: []string{"510"}, Queues: []string{"sales"}}, "t2", "")
	evs := []Event{
		{Type: TypeQueueMemberStatus, Agent: "500", Queue: "support", Status: "not_inuse"},
		{Type: TypeQueueMemberStatus, Agent: "510", Queue: "support", Status: "not_inuse"}, // nobody: b lacks support
		{Type: TypeQueueCount, Queue: "sales", Count: 1},
		{Type: TypeOriginateFailed, ActionID: "x", Owner: "t2"},
		{Type: TypeStale},
	}
	h.Publish(evs...)
	got := func(s *Subscriber) []uint64 {
		var out []uint64
		for {
			select {
			case f := <-s.ch:
				out = append(out, f.seq)
			default:
				return out
			}
		}
	}
	if ga := got(a); len(ga) != 2 || ga[0] != 1 || ga[1] != 5 {
		t.Errorf("a got %v, want [1 5]", ga)
	}
	if gb := got(b); len(gb) != 3 || gb[0] != 3 || gb[1] != 4 || gb[2] != 5 {
		t.Errorf("b got %v, want [3 4 5]", gb)
	}
	// resume after id 1 with a's scope: exactly 5
	_, op := h.Subscribe(a.scope, "t1", h.id(1))
	if !op.Resumed || len(op.Frames) != 1 {
		t.Fatalf("resume: %+v", op)
	}
	// from the newest id: nothing; from 0 (before the first): everything in scope
	if _, op := h.Subscribe(a.scope, "t1", h.LastID()); !op.Resumed || len(op.Frames) != 0 {
		t.Errorf("resume from the newest id: %+v", op)
	}
	if _, op := h.Subscribe(b.scope, "t2", h.id(0)); !op.Resumed || len(op.Frames) != 3 {
		t.Errorf("resume from 0: resumed=%v, %d frames, want 3", op.Resumed, len(op.Frames))
	}
	// an id of another epoch, and one past the retention window
	if _, op := h.Subscribe(a.scope, "t1", "zzz.1"); op.Resumed || op.Reason != "unknown" {
		t.Errorf("foreign id: %+v", op)
	}
	now = now.Add(2 * time.Minute)
	h.Publish(Event{Type: TypeResynced})
	_, op = h.Subscribe(a.scope, "t1", h.id(1))
	if op.Resumed || op.Reason != "expired" {
		t.Errorf("expired id: resumed=%v reason=%s", op.Resumed, op.Reason)
	}
	// snapshot: the fact in scope, no stale (resynced cleared it)
	if len(op.Frames) != 3 {
		for _, f := range op.Frames {
			t.Logf("%s", f)
		}
		t.Errorf("snapshot has %d frames, want snapshot, 1 fact, snapshotEnd", len(op.Frames))
	}
}

func TestHubDropsFullSubscriber(t *testing.T) {
	h := NewHub(HubConfig{Buffer: 2})
	slow, _ := h.Subscribe(Scope{Queues: []string{"q"}}, "", "")
	fast, _ := h.Subscribe(Scope{Queues: []string{"q"}}, "", "")
	for i := 0; i < 3; i++ {
		h.Publish(Event{Type: TypeQueueCount, Queue: "q", Count: i})
		<-fast.ch
	}
	if !h.Dropped(slow) || h.Dropped(fast) || h.Subscribers() != 1 {
		t.Fatalf("dropped slow=%v fast=%v subscribers=%d", h.Dropped(slow), h.Dropped(fast), h.Subscribers())
	}
	n := 0
	for range slow.ch {
		n++
	}
	if n != 2 {
		t.Errorf("slow subscriber had %d frames buffered, want 2", n)
	}
}
