package callcenter

import "sort"

// The facts: what the state means as digested events, and the comparison
// with what was told that turns it into differences.

// agentFacts appends the stateful events that describe agent a now.
func (m *Model) agentFacts(st *modelState, id string, out []Event) []Event {
	a := st.agents[id]
	if a == nil {
		return out
	}
	if a.name != "" {
		out = append(out, Event{Type: TypeAgentName, Agent: id, Name: a.name})
	}
	if s, ok := m.extensionOf(st, a); ok {
		out = append(out, Event{Type: TypeExtensionStatus, Agent: id, Status: s.String()})
	}
	if a.call != nil {
		out = append(out, Event{Type: TypePhoneNumber, Agent: id, Number: a.call.number, Name: a.call.name, CallQueue: a.call.queue})
	}
	return out
}

// extensionOf is the agent's phone state: its hint when it has one, else
// the device its StateInterface follows (Custom:… or Agent:…), which is
// what stays true during a call when QueueMemberStatus says nothing (71).
func (m *Model) extensionOf(st *modelState, a *agentRec) (DeviceState, bool) {
	if a.hasHint {
		return a.hint, true
	}
	for _, mr := range st.membersOf(a.id) {
		if s, ok := st.devices[deviceOfInterface(mr.stateIface)]; ok {
			if a.call != nil && s == DeviceNotInUse {
				s = DeviceInUse // a Custom device left idle through a real call (71)
			}
			return s, true
		}
	}
	return DeviceUnknown, false
}

func (m *Model) memberFact(st *modelState, k memberKey) (Event, bool) {
	mr := st.members[k]
	if mr == nil {
		return Event{}, false
	}
	ev := Event{Type: TypeQueueMemberStatus, Agent: k.agent, Queue: k.queue}
	switch {
	case mr.paused:
		ev.Status, ev.PausedReason, ev.PausedSince = StatusPaused, mr.pausedReason, mr.pausedSince
	default:
		s := mr.status
		// A Custom StateInterface says NOT_INUSE through a real call and no
		// QueueMemberStatus comes (71); the call itself says otherwise.
		if mr.inCall && (s == DeviceNotInUse || s == DeviceUnknown) {
			s = DeviceInUse
		}
		ev.Status = s.String()
	}
	return ev, true
}

// flush turns the dirty marks into the events that differ from told, in
// a stable order (agents, then members, then queues, each sorted).
func (m *Model) flush() {
	st := m.st
	var facts []Event
	for _, id := range sortedKeys(m.dirtyAgents) {
		facts = m.agentFacts(st, id, facts[:0])
		var want [3]bool
		for _, f := range facts {
			want[agentFactIndex(f.Type)] = true
			m.tell(f)
		}
		for i, t := range agentFactTypes {
			k := factKey{typ: t, agent: id}
			old, ok := m.told[k]
			if want[i] || !ok {
				continue
			}
			delete(m.told, k)
			// A phone state we stop knowing (its member left) is not news;
			// the end of a call is.
			if t == TypePhoneNumber && old.Number != "" {
				m.out = append(m.out, Event{Type: TypePhoneNumber, Agent: id})
			}
		}
	}
	clear(m.dirtyAgents)
	mks := make([]memberKey, 0, len(m.dirtyMembers))
	for k := range m.dirtyMembers {
		mks = append(mks, k)
	}
	sort.Slice(mks, func(i, j int) bool {
		if mks[i].agent != mks[j].agent {
			return mks[i].agent < mks[j].agent
		}
		return mks[i].queue < mks[j].queue
	})
	for _, k := range mks {
		if f, ok := m.memberFact(st, k); ok {
			m.tell(f)
			continue
		}
		fk := factKey{typ: TypeQueueMemberStatus, agent: k.agent, queue: k.queue}
		if _, ok := m.told[fk]; ok {
			delete(m.told, fk)
			m.out = append(m.out, Event{Type: TypeQueueMemberStatus, Agent: k.agent, Queue: k.queue, Status: StatusLoggedOff})
		}
	}
	clear(m.dirtyMembers)
	for _, name := range sortedKeys(m.dirtyQueues) {
		if q := st.queues[name]; q != nil {
			m.tell(Event{Type: TypeQueueCount, Queue: name, Count: q.count})
		} else if _, ok := m.told[factKey{typ: TypeQueueCount, queue: name}]; ok {
			delete(m.told, factKey{typ: TypeQueueCount, queue: name})
			m.out = append(m.out, Event{Type: TypeQueueCount, Queue: name, Count: 0})
		}
	}
	clear(m.dirtyQueues)
}

var agentFactTypes = [3]Type{TypeAgentName, TypeExtensionStatus, TypePhoneNumber}

func agentFactIndex(t Type) int {
	switch t {
	case TypeAgentName:
		return 0
	case TypeExtensionStatus:
		return 1
	}
	return 2
}

func sortedKeys(m map[string]struct{}) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (m *Model) tell(f Event) {
	k := f.key()
	if old, ok := m.told[k]; ok && old == f {
		return
	}
	m.told[k] = f
	m.out = append(m.out, f)
}
