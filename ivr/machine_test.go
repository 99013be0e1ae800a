package ivr

import (
	"context"
	"slices"
	"testing"

	"github.com/looplab/fsm"

	"github.com/fsivr/fsivr/flows"
)

// TestEveryKindHasARunner fails when flows declares a kind the session
// cannot run (flows has the twin test for its compilers).
func TestEveryKindHasARunner(t *testing.T) {
	for _, k := range flows.Kinds() {
		if r, ok := runners[k]; !ok || r.enter == nil {
			t.Errorf("node kind %q has no runner", k)
		}
	}
	for k := range runners {
		if !slices.Contains(flows.Kinds(), k) {
			t.Errorf("runner for %q, which flows does not declare", k)
		}
	}
}

func loadSales(t *testing.T) *flows.Flow {
	t.Helper()
	f, err := flows.Load("../flows/sales.yaml", flows.Options{SkipPromptCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func hasEvent(evs []fsm.EventDesc, name, src, dst string) bool {
	for _, e := range evs {
		if e.Name == name && e.Dst == dst && slices.Contains(e.Src, src) {
			return true
		}
	}
	return false
}

// The machine is built from the flow's edges plus hangup from every state,
// one EventDesc per (outcome, destination).
func TestMachineEventsFromEdges(t *testing.T) {
	f := loadSales(t)
	evs := machineEvents(f)
	for _, e := range f.Edges() {
		if !hasEvent(evs, string(e.Outcome), e.From, e.To) {
			t.Errorf("edge %s --%s--> %s missing from the machine", e.From, e.Outcome, e.To)
		}
	}
	for _, src := range []string{"welcome", "bridge_cc", flows.StateEnd} {
		if !hasEvent(evs, eventHangup, src, flows.StateHungUp) {
			t.Errorf("missing transition %s --hangup--> %s", src, flows.StateHungUp)
		}
	}
	type key struct{ n, d string }
	seen := map[key]bool{}
	for _, e := range evs {
		if seen[key{e.Name, e.Dst}] {
			t.Errorf("event %s -> %s listed twice", e.Name, e.Dst)
		}
		seen[key{e.Name, e.Dst}] = true
	}
	var m machines
	if a, b := m.eventsOf(f), m.eventsOf(f); &a[0] != &b[0] {
		t.Error("the table of one flow version was built twice")
	}
}

// TestEventsDriveLooplab checks that the table is accepted by looplab/fsm
// and walks the seed's "press 2, CRM knows the extension, the bridge fails,
// press 1" path.
func TestEventsDriveLooplab(t *testing.T) {
	f := loadSales(t)
	m := fsm.NewFSM(f.Start, machineEvents(f), nil)
	ctx := context.Background()
	path := []string{string(flows.OutcomeDone), string(flows.RuleOutcome("Workday")), string(flows.ChoiceOutcome("2")),
		string(flows.OutcomeReady), string(flows.OutcomeDone), string(flows.OutcomeFailed), string(flows.OutcomeDone),
		string(flows.ChoiceOutcome("1")), string(flows.OutcomeDone), eventHangup}
	want := []string{"office_hours", "main_menu", "wait_crm", "set_cc_from_crm", "bridge_cc", "cc_failure", "cc_menu", "transfer_playcell", flows.StateEnd, flows.StateHungUp}
	for i, ev := range path {
		if err := m.Event(ctx, ev); err != nil {
			t.Fatalf("event %s in %s: %v", ev, m.Current(), err)
		}
		if m.Current() != want[i] {
			t.Fatalf("after %s: state %s, want %s", ev, m.Current(), want[i])
		}
	}
	if err := m.Event(ctx, string(flows.OutcomeDone)); err == nil {
		t.Errorf("hungup state accepted %s", flows.OutcomeDone)
	}
}
