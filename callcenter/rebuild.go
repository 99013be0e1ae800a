package callcenter

import (
	"sort"
	"strings"
)

// RebuildActions are the list actions a (re)connect sends, once each, to
// rebuild the model: members, callers and queue counts (QueueStatus), hint
// states (ExtensionStateList), the Custom:/Agent: devices the members
// follow (DeviceStateList), and the channels, to keep a call that is still
// up across a dropped link (CoreShowChannels). Nothing else is ever asked.
var RebuildActions = []string{"QueueStatus", "ExtensionStateList", "DeviceStateList", "CoreShowChannels"}

// Rebuild replaces the state with the one the list items describe (the
// items of every action of RebuildActions, in any order) and returns the
// differences from what was told before: changed and new facts, a
// loggedoff for each member that is gone, a null phoneNumber for each call
// that ended, queueCount 0 for a queue that no longer exists, and an
// originateFailed (reason "lost") for each originate whose channels are
// gone without an outcome. Live events that arrived while the lists were
// being read are applied after it, with Apply.
func (m *Model) Rebuild(items []Fields) []Event {
	m.out = m.out[:0]
	old := m.st
	st := newState()
	channels := map[string]bool{} // channel names and Uniqueids/Linkedids alive now
	var live []Fields             // the CoreShowChannel items
	for _, it := range items {
		if it.Get("Event") == "CoreShowChannel" {
			for _, h := range []string{"Channel", "Uniqueid", "Linkedid"} {
				if v := it.Get(h); v != "" {
					channels[v] = true
				}
			}
			live = append(live, it)
			continue
		}
		m.apply(st, it)
	}
	// Keep what only events told us, when the call it belongs to is still up.
	for id, a := range old.agents {
		if a.call == nil || !(channels[a.call.channel] || channels[a.call.agentChannel]) {
			continue
		}
		if _, originated := m.connected[a.call.uniqueID]; originated {
			st.agent(id).call = a.call
			continue
		}
		for _, mr := range st.membersOf(id) {
			if mr.inCall {
				st.agent(id).call = a.call
				break
			}
		}
	}
	callsFromChannels(st, live)
	for _, uid := range old.recOrder {
		if p, ok := old.recordings[uid]; ok && channels[uid] {
			m.remember(st, uid, p)
		}
	}
	if old.agents != nil {
		for id, a := range old.agents {
			if a.listNamed {
				n := st.agent(id)
				if n.name == "" {
					n.name, n.listNamed = a.name, true
				}
			}
		}
	}
	for id := range m.connected {
		if !channels[id] {
			delete(m.connected, id)
		}
	}
	chIDs := make([]string, 0, len(m.originates))
	for id := range m.originates {
		chIDs = append(chIDs, id)
	}
	sort.Strings(chIDs)
	for _, id := range chIDs {
		if !channels[id] {
			m.originateFailed(m.originates[id], "lost")
		}
	}
	m.st = st
	// Everything told before and everything known now is compared.
	for k := range m.told {
		switch {
		case k.typ == TypeQueueMemberStatus:
			m.dirtyMembers[memberKey{k.queue, k.agent}] = struct{}{}
		case k.agent != "":
			m.dirtyAgents[k.agent] = struct{}{}
		case k.queue != "":
			m.dirtyQueues[k.queue] = struct{}{}
		}
	}
	for id := range st.agents {
		m.dirtyAgents[id] = struct{}{}
	}
	for k := range st.members {
		m.dirtyMembers[k] = struct{}{}
	}
	for q := range st.queues {
		m.dirtyQueues[q] = struct{}{}
	}
	m.flush()
	return m.out
}

// callsFromChannels gives a member that is in a call (InCall: 1) the
// party of a call that began while the link was down: the member's
// channel (its Interface's device plus "-…", e.g. Local/510@agent-0000001d;1)
// shows the caller as ConnectedLine, and the channel in the same bridge
// is the caller's (to redirect or park it).
func callsFromChannels(st *modelState, live []Fields) {
	for k, mr := range st.members {
		a := st.agents[k.agent]
		if !mr.inCall || a == nil || a.call != nil {
			continue
		}
		prefix := deviceOfInterface(mr.iface) + "-"
		for _, ch := range live {
			name := ch.Get("Channel")
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			c := &callRec{number: ch.Get("ConnectedLineNum"), name: ch.Get("ConnectedLineName"), queue: k.queue, agentChannel: name}
			if bridge := ch.Get("BridgeId"); bridge != "" {
				for _, peer := range live {
					if peer.Get("BridgeId") == bridge && peer.Get("Channel") != name {
						c.channel, c.uniqueID = peer.Get("Channel"), peer.Get("Uniqueid")
					}
				}
			}
			if c.number != "" && c.number != "<unknown>" {
				a.call = c
			}
			break
		}
	}
}

// Facts returns the current state as digested events (what a new
// subscriber is told first), sorted by type, agent and queue.
func (m *Model) Facts() []Event {
	out := make([]Event, 0, len(m.told))
	for _, e := range m.told {
		out = append(out, e)
	}
	sortEvents(out)
	return out
}

func sortEvents(evs []Event) {
	sort.Slice(evs, func(i, j int) bool { return lessKey(evs[i].key(), evs[j].key()) })
}

func lessKey(a, b factKey) bool {
	if a.typ != b.typ {
		return a.typ < b.typ
	}
	if a.agent != b.agent {
		return a.agent < b.agent
	}
	return a.queue < b.queue
}

// Caller is a call waiting in a queue.
type Caller struct {
	UniqueID string
	Channel  string
	Number   string
	Name     string
	Position int
}

// MemberView is one agent's membership of one queue.
type MemberView struct {
	Agent, Queue, Interface, StateInterface, Name, Membership string
	Status                                                    DeviceState
	Paused                                                    bool
	PausedReason                                              string
	PausedSince                                               int64 // Unix seconds
	InCall                                                    bool
	Penalty, CallsTaken                                       int
}

// QueueView is a queue with its waiting callers, by position.
type QueueView struct {
	Name    string
	Count   int
	Callers []Caller
}

// AgentView is an agent: name, phone state and the party on the line.
type AgentView struct {
	ID, Name     string
	Extension    DeviceState
	HasExtension bool
	Number       string // "" when not on a queue call
}

// View is a copy of the model's state, for tests and debugging pages.
type View struct {
	Agents  map[string]AgentView
	Queues  map[string]QueueView
	Members map[string]MemberView // by "queue/agent"
}

// View returns a copy of the current state.
func (m *Model) View() View {
	st := m.st
	v := View{Agents: map[string]AgentView{}, Queues: map[string]QueueView{}, Members: map[string]MemberView{}}
	for id, a := range st.agents {
		av := AgentView{ID: id, Name: a.name}
		av.Extension, av.HasExtension = m.extensionOf(st, a)
		if a.call != nil {
			av.Number = a.call.number
		}
		v.Agents[id] = av
	}
	for name, q := range st.queues {
		qv := QueueView{Name: name, Count: q.count}
		for _, c := range q.callers {
			qv.Callers = append(qv.Callers, *c)
		}
		sort.Slice(qv.Callers, func(i, j int) bool { return qv.Callers[i].Position < qv.Callers[j].Position })
		v.Queues[name] = qv
	}
	for k, mr := range st.members {
		v.Members[k.queue+"/"+k.agent] = MemberView{
			Agent: k.agent, Queue: k.queue, Interface: mr.iface, StateInterface: mr.stateIface,
			Name: mr.name, Membership: mr.membership, Status: mr.status, Paused: mr.paused,
			PausedReason: mr.pausedReason, PausedSince: mr.pausedSince, InCall: mr.inCall,
			Penalty: mr.penalty, CallsTaken: mr.callsTaken,
		}
	}
	return v
}

// CallOf returns the channels of the agent's current queue call: the
// caller's (to redirect or park it) and the agent's own (to hear the
// parking space). ok is false when the agent is on no call the model knows.
func (m *Model) CallOf(agent string) (callerChannel, agentChannel string, ok bool) {
	a := m.st.agents[agent]
	if a == nil || a.call == nil {
		return "", "", false
	}
	return a.call.channel, a.call.agentChannel, true
}

// MemberInterface returns the Interface of the agent's membership of
// queue, or of any queue when queue is "".
func (m *Model) MemberInterface(agent, queue string) (string, bool) {
	if queue != "" {
		if mr := m.st.members[memberKey{queue, agent}]; mr != nil {
			return mr.iface, true
		}
		return "", false
	}
	if ms := m.st.membersOf(agent); len(ms) > 0 {
		return ms[0].iface, true
	}
	return "", false
}

// HasQueue reports whether the model knows the queue.
func (m *Model) HasQueue(q string) bool { return m.st.queues[q] != nil }
