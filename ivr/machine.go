package ivr

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"weak"

	"github.com/looplab/fsm"

	"github.com/fsivr/fsivr/flows"
)

// eventHangup is the machine event that leaves any state for
// flows.StateHungUp. It is the runtime's own: flows has no hangup edge.
const eventHangup = "hangup"

// machines caches, for each flow version, its looplab/fsm transition table
// and a pool of looplab/fsm machines built from it, so a call builds
// neither: looplab/fsm has no way to share one table between machines, and
// building a machine per call (its transition, state and event maps) was
// most of a call's setup CPU and most of its bytes. A call keeps only its
// current state (Session.state); each transition borrows a pooled machine,
// puts it in that state and fires the event, so looplab/fsm still decides
// every move (unknown events, self-loops, the hangup edge) with its own
// rules. The entry is dropped when the version is garbage (a reload
// replaced it and no call holds it any more).
type machines struct {
	versions sync.Map // weak.Pointer[flows.Flow] -> *flowMachine
}

// flowMachine is what the calls of one flow version share.
type flowMachine struct {
	events []fsm.EventDesc
	pool   sync.Pool // *fsm.FSM without callbacks, in any state
}

// of returns the shared machine of f.
func (m *machines) of(f *flows.Flow) *flowMachine {
	key := weak.Make(f)
	if v, ok := m.versions.Load(key); ok {
		return v.(*flowMachine)
	}
	fm := &flowMachine{events: machineEvents(f)}
	fm.pool.New = func() any { return fsm.NewFSM(f.Start, fm.events, nil) }
	v, loaded := m.versions.LoadOrStore(key, fm)
	if !loaded {
		runtime.AddCleanup(f, func(k weak.Pointer[flows.Flow]) { m.versions.Delete(k) }, key)
	}
	return v.(*flowMachine)
}

// eventsOf returns the transition table of f.
func (m *machines) eventsOf(f *flows.Flow) []fsm.EventDesc { return m.of(f).events }

// fire runs event from state from through looplab/fsm and returns the state
// the machine is in afterwards and the library's error
// (fsm.NoTransitionError for a node leading back to itself,
// fsm.InvalidEventError for an event the state does not have). Any
// goroutine may call it: each call borrows its own machine.
func (fm *flowMachine) fire(from, event string) (string, error) {
	m := fm.pool.Get().(*fsm.FSM)
	m.SetState(from)
	err := m.Event(context.Background(), event)
	to := m.Current()
	fm.pool.Put(m)
	return to, err
}

// machineEvents builds the looplab/fsm table from the flow's edges: one
// EventDesc per (outcome, destination) with its sources in file order, then
// eventHangup from every state. A node's edge back to itself is kept: the
// library reports it as NoTransitionError and the session re-enters the
// node itself (see fireQueued).
func machineEvents(f *flows.Flow) []fsm.EventDesc {
	type key struct {
		name flows.Outcome
		dst  string
	}
	at := map[key]int{}
	var evs []fsm.EventDesc
	for _, e := range f.Edges() {
		k := key{e.Outcome, e.To}
		if i, ok := at[k]; ok {
			evs[i].Src = append(evs[i].Src, e.From)
			continue
		}
		at[k] = len(evs)
		evs = append(evs, fsm.EventDesc{Name: string(e.Outcome), Src: []string{e.From}, Dst: e.To})
	}
	all := append(slices.Clone(f.Order), flows.StateEnd)
	return append(evs, fsm.EventDesc{Name: eventHangup, Src: all, Dst: flows.StateHungUp})
}
