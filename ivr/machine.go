package ivr

import (
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

// machines caches the looplab/fsm transition table of each flow version, so
// a call builds none: the table is made once, the first time a version
// runs, and dropped when the version is garbage (a reload replaced it and no
// call holds it any more).
type machines struct {
	events sync.Map // weak.Pointer[flows.Flow] -> []fsm.EventDesc
}

// eventsOf returns the transition table of f.
func (m *machines) eventsOf(f *flows.Flow) []fsm.EventDesc {
	key := weak.Make(f)
	if v, ok := m.events.Load(key); ok {
		return v.([]fsm.EventDesc)
	}
	evs := machineEvents(f)
	if _, loaded := m.events.LoadOrStore(key, evs); !loaded {
		runtime.AddCleanup(f, func(k weak.Pointer[flows.Flow]) { m.events.Delete(k) }, key)
	}
	return evs
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
