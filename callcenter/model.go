package callcenter

import (
	"sort"
	"strconv"
	"strings"
)

// Fields is what the model reads from an AMI message: a header by name,
// case-insensitively (Asterisk writes Holdtime and HoldTime, Uniqueid and
// UniqueID). ami.Message satisfies it.
type Fields interface {
	Get(key string) string
}

// ModelConfig tunes how the model names agents.
type ModelConfig struct {
	// AgentOf names the agent behind a member Interface or StateInterface;
	// nil means AgentOfInterface (the extension: Local/510@agent/n is 510).
	AgentOf func(iface string) string
	// HintContexts, when not empty, are the dialplan contexts whose hints
	// are agents' phones (ExtensionStatus Exten = agent); other hints are
	// ignored. Empty means every hint is an agent.
	HintContexts []string
	// MaxRecordings bounds the file names remembered for calls still in
	// progress (default 10,000); the oldest is forgotten first.
	MaxRecordings int
}

// Model is the call-centre state kept from the AMI event stream alone: it
// never asks Asterisk anything. Feed it with Apply (one live event) and
// Rebuild (the items of the list actions after a (re)connect); both return
// the digested events that differ from what was told before, so a
// subscriber that applied every returned event holds the same state.
//
// A Model is not safe for concurrent use: one goroutine (the AMI reader's
// consumer) owns it.
type Model struct {
	cfg ModelConfig
	st  *modelState

	told map[factKey]Event

	dirtyAgents  map[string]struct{}
	dirtyQueues  map[string]struct{}
	dirtyMembers map[memberKey]struct{}

	// originates in flight, by the ChannelId given to Asterisk
	originates map[string]*pendingOriginate
	byActionID map[string]*pendingOriginate
	// answered originates (customer connected), ChannelId -> agent, until
	// the agent leg hangs up
	connected map[string]string

	out []Event
}

type memberKey struct{ queue, agent string }

type modelState struct {
	agents     map[string]*agentRec
	queues     map[string]*queueRec
	members    map[memberKey]*memberRec
	ofAgent    map[string]map[memberKey]*memberRec // agent -> its memberships
	ofDevice   map[string]map[memberKey]*memberRec // StateInterface device -> members following it
	hintAgent  map[string]string                   // hint device -> agent
	devices    map[string]DeviceState
	recordings map[string]string // channel Uniqueid -> MIXMONITOR_FILENAME
	recOrder   []string
}

type agentRec struct {
	id        string
	name      string
	hint      DeviceState
	hasHint   bool
	call      *callRec
	hintDevs  []string
	listNamed bool
}

type callRec struct {
	number, name, queue string
	uniqueID            string // the caller's channel
	channel             string // the caller's channel name
	agentChannel        string // the member's channel (DestChannel)
}

type queueRec struct {
	name    string
	count   int
	callers map[string]*Caller
}

type memberRec struct {
	queue, agent            string
	iface, stateIface, name string
	membership              string
	penalty, callsTaken     int
	status                  DeviceState
	paused                  bool
	pausedReason            string
	pausedSince             int64
	inCall                  bool
	lastCall, loginTime     int64
}

type pendingOriginate struct {
	Originate
}

// Originate describes an originate-call to follow (TrackOriginate).
type Originate struct {
	ID        string // what the client was given and originateFailed carries
	ChannelID string // the ChannelId sent: Uniqueid of the agent leg, Linkedid of every leg (67)
	Owner     string // who gets originateFailed (a token name)
	Agent     string // whose phone rang first; gets phoneNumber once the number answers
	Number    string
}

func newState() *modelState {
	return &modelState{
		agents:     map[string]*agentRec{},
		queues:     map[string]*queueRec{},
		members:    map[memberKey]*memberRec{},
		ofAgent:    map[string]map[memberKey]*memberRec{},
		ofDevice:   map[string]map[memberKey]*memberRec{},
		hintAgent:  map[string]string{},
		devices:    map[string]DeviceState{},
		recordings: map[string]string{},
	}
}

// NewModel returns an empty model.
func NewModel(cfg ModelConfig) *Model {
	if cfg.AgentOf == nil {
		cfg.AgentOf = AgentOfInterface
	}
	if cfg.MaxRecordings <= 0 {
		cfg.MaxRecordings = 10000
	}
	return &Model{
		cfg:          cfg,
		st:           newState(),
		told:         map[factKey]Event{},
		dirtyAgents:  map[string]struct{}{},
		dirtyQueues:  map[string]struct{}{},
		dirtyMembers: map[memberKey]struct{}{},
		originates:   map[string]*pendingOriginate{},
		byActionID:   map[string]*pendingOriginate{},
		connected:    map[string]string{},
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}

func (m *Model) agentOfMember(iface, stateIface string) string {
	if a := m.cfg.AgentOf(iface); a != "" {
		return a
	}
	return m.cfg.AgentOf(stateIface)
}

func (st *modelState) agent(id string) *agentRec {
	a := st.agents[id]
	if a == nil {
		a = &agentRec{id: id}
		st.agents[id] = a
	}
	return a
}

func (st *modelState) queue(name string) *queueRec {
	q := st.queues[name]
	if q == nil {
		q = &queueRec{name: name, callers: map[string]*Caller{}}
		st.queues[name] = q
	}
	return q
}

func addIndex(ix map[string]map[memberKey]*memberRec, key string, k memberKey, mr *memberRec) {
	set := ix[key]
	if set == nil {
		set = map[memberKey]*memberRec{}
		ix[key] = set
	}
	set[k] = mr
}

func dropIndex(ix map[string]map[memberKey]*memberRec, key string, k memberKey) {
	if set := ix[key]; set != nil {
		delete(set, k)
		if len(set) == 0 {
			delete(ix, key)
		}
	}
}

// setStateIface changes a member's StateInterface, keeping ofDevice right.
func (st *modelState) setStateIface(k memberKey, mr *memberRec, iface string) {
	if mr.stateIface == iface && st.ofDevice[deviceOfInterface(iface)][k] == mr {
		return
	}
	dropIndex(st.ofDevice, deviceOfInterface(mr.stateIface), k)
	mr.stateIface = iface
	addIndex(st.ofDevice, deviceOfInterface(iface), k, mr)
}

func (st *modelState) removeMember(k memberKey) {
	mr := st.members[k]
	if mr == nil {
		return
	}
	delete(st.members, k)
	dropIndex(st.ofAgent, k.agent, k)
	dropIndex(st.ofDevice, deviceOfInterface(mr.stateIface), k)
}

// membersOf returns the agent's memberships sorted by queue.
func (st *modelState) membersOf(agent string) []*memberRec {
	set := st.ofAgent[agent]
	out := make([]*memberRec, 0, len(set))
	for _, mr := range set {
		out = append(out, mr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].queue < out[j].queue })
	return out
}

// TrackOriginate registers an originate-call in flight, so its failure —
// an OriginateResponse Failure, or (67: Success comes when the agent
// answers) a DialEnd of the customer leg other than ANSWER — becomes an
// originateFailed event for owner.
//
// When the number answers, the agent's phoneNumber is the number until
// the agent's leg hangs up.
func (m *Model) TrackOriginate(o Originate) {
	p := &pendingOriginate{Originate: o}
	m.originates[o.ChannelID] = p
	m.byActionID[o.ID] = p
}

// ForgetOriginate drops a tracked originate (its action failed at once).
func (m *Model) ForgetOriginate(id string) {
	if p := m.byActionID[id]; p != nil {
		m.forget(p)
	}
}

func (m *Model) forget(p *pendingOriginate) {
	delete(m.byActionID, p.ID)
	delete(m.originates, p.ChannelID)
}

func (m *Model) originateFailed(p *pendingOriginate, reason string) {
	m.forget(p)
	m.out = append(m.out, Event{Type: TypeOriginateFailed, ActionID: p.ID, Reason: reason, Owner: p.Owner})
}

// originateReasons are the OriginateResponse Reason codes of the captures
// (11, 12, 13, 23: 0 no such extension / technology / rejected, 3 no answer,
// 5 busy, 8 congestion).
var originateReasons = map[string]string{"0": "failed", "1": "hangup", "3": "noanswer", "5": "busy", "8": "congestion"}

// Apply feeds one live AMI event and returns the digested events it causes
// (nil for most). The returned slice is valid until the next call.
func (m *Model) Apply(ev Fields) []Event {
	m.out = m.out[:0]
	m.apply(m.st, ev)
	m.flush()
	return m.out
}

func (m *Model) apply(st *modelState, ev Fields) {
	switch ev.Get("Event") {
	case "QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause", "QueueMemberPenalty", "QueueMemberRinginuse", "QueueMember":
		m.member(st, ev)
	case "QueueMemberRemoved":
		iface := ev.Get("Interface")
		agent := m.agentOfMember(iface, ev.Get("StateInterface"))
		if agent == "" {
			return
		}
		k := memberKey{ev.Get("Queue"), agent}
		st.removeMember(k)
		m.dirtyMembers[k] = struct{}{}
		m.dirtyAgents[agent] = struct{}{}
	case "QueueParams":
		q := st.queue(ev.Get("Queue"))
		q.count = atoi(ev.Get("Calls"))
		m.dirtyQueues[q.name] = struct{}{}
	case "QueueEntry":
		q := st.queue(ev.Get("Queue"))
		c := callerOf(ev)
		q.callers[c.UniqueID] = &c
		m.dirtyQueues[q.name] = struct{}{}
	case "QueueCallerJoin":
		q := st.queue(ev.Get("Queue"))
		c := callerOf(ev)
		q.callers[c.UniqueID] = &c
		q.count = atoi(ev.Get("Count"))
		m.dirtyQueues[q.name] = struct{}{}
	case "QueueCallerLeave":
		q := st.queue(ev.Get("Queue"))
		delete(q.callers, ev.Get("Uniqueid"))
		q.count = atoi(ev.Get("Count"))
		// No event tells the others that they moved up (63); keep the
		// positions consistent with the order they joined in.
		renumber(q)
		m.dirtyQueues[q.name] = struct{}{}
	case "QueueCallerAbandon":
		m.forgetRecording(st, ev.Get("Uniqueid"))
	case "AgentConnect":
		agent := m.agentOfMember(ev.Get("Interface"), "")
		if agent == "" {
			return
		}
		a := st.agent(agent)
		a.call = &callRec{
			number: ev.Get("CallerIDNum"), name: ev.Get("CallerIDName"), queue: ev.Get("Queue"),
			uniqueID: ev.Get("Uniqueid"), channel: ev.Get("Channel"), agentChannel: ev.Get("DestChannel"),
		}
		if mr := st.members[memberKey{ev.Get("Queue"), agent}]; mr != nil {
			mr.inCall = true
			m.dirtyMembers[memberKey{mr.queue, agent}] = struct{}{}
		}
		m.dirtyAgents[agent] = struct{}{}
	case "AgentComplete":
		agent := m.agentOfMember(ev.Get("Interface"), "")
		if agent == "" {
			return
		}
		a := st.agent(agent)
		uid := ev.Get("Uniqueid")
		rec := st.recordings[uid]
		if rec == "" {
			rec = st.recordings[ev.Get("DestUniqueid")]
		}
		m.forgetRecording(st, uid)
		m.forgetRecording(st, ev.Get("DestUniqueid"))
		m.out = append(m.out, Event{
			Type: TypeAgentComplete, Agent: agent, UniqueID: uid,
			TalkTime: atoi(ev.Get("TalkTime")), HoldTime: atoi(ev.Get("HoldTime")), Recording: rec,
		})
		a.call = nil
		if mr := st.members[memberKey{ev.Get("Queue"), agent}]; mr != nil {
			mr.inCall = false
			m.dirtyMembers[memberKey{mr.queue, agent}] = struct{}{}
		}
		m.dirtyAgents[agent] = struct{}{}
	case "VarSet":
		if strings.EqualFold(ev.Get("Variable"), "MIXMONITOR_FILENAME") {
			m.remember(st, ev.Get("Uniqueid"), ev.Get("Value"))
		}
	case "ExtensionStatus":
		m.extension(st, ev)
	case "DeviceStateChange":
		dev := ev.Get("Device")
		if !FollowedDevice(dev) {
			return
		}
		st.devices[dev] = DeviceStateText(ev.Get("State"))
		if a, ok := st.hintAgent[dev]; ok {
			m.dirtyAgents[a] = struct{}{}
		}
		for k := range st.ofDevice[dev] {
			m.dirtyAgents[k.agent] = struct{}{}
			m.dirtyMembers[k] = struct{}{}
		}
	case "Agents":
		// app_agent_pool list item (70): the agent's configured name.
		if id, name := ev.Get("Agent"), ev.Get("Name"); id != "" && name != "" {
			a := st.agent(id)
			a.name, a.listNamed = name, true
			m.dirtyAgents[id] = struct{}{}
		}
	case "OriginateResponse":
		// Matched by our ChannelId (its Uniqueid even on failure) or
		// ActionID; it is broadcast to every session (68), so others' are
		// ignored.
		p := m.originates[ev.Get("Uniqueid")]
		if p == nil {
			p = m.byActionID[ev.Get("ActionID")]
		}
		if p == nil {
			return
		}
		if strings.EqualFold(ev.Get("Response"), "Success") {
			return // the agent answered; the number's fate is in DialEnd (67)
		}
		reason := originateReasons[ev.Get("Reason")]
		if reason == "" {
			reason = "failed"
		}
		m.originateFailed(p, reason)
	case "DialEnd":
		// The customer leg is dialled from the agent's leg, whose Uniqueid
		// is our ChannelId (67); the agent leg's own DialEnd has no Channel.
		p := m.originates[ev.Get("Uniqueid")]
		if p == nil || ev.Get("Channel") == "" {
			return
		}
		if status := ev.Get("DialStatus"); status != "ANSWER" {
			m.originateFailed(p, strings.ToLower(status))
			return
		}
		m.forget(p)
		if p.Agent != "" {
			st.agent(p.Agent).call = &callRec{number: p.Number, uniqueID: p.ChannelID,
				channel: ev.Get("DestChannel"), agentChannel: ev.Get("Channel")}
			m.connected[p.ChannelID] = p.Agent
			m.dirtyAgents[p.Agent] = struct{}{}
		}
	case "Hangup":
		// the agent leg of an answered originate-call (its Uniqueid is our ChannelId)
		uid := ev.Get("Uniqueid")
		if agent, ok := m.connected[uid]; ok {
			delete(m.connected, uid)
			if a := st.agents[agent]; a != nil && a.call != nil && a.call.uniqueID == uid {
				a.call = nil
				m.dirtyAgents[agent] = struct{}{}
			}
		}
	}
}

func callerOf(ev Fields) Caller {
	return Caller{
		UniqueID: ev.Get("Uniqueid"), Channel: ev.Get("Channel"),
		Number: ev.Get("CallerIDNum"), Name: ev.Get("CallerIDName"), Position: atoi(ev.Get("Position")),
	}
}

func renumber(q *queueRec) {
	cs := make([]*Caller, 0, len(q.callers))
	for _, c := range q.callers {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Position < cs[j].Position })
	for i, c := range cs {
		c.Position = i + 1
	}
}

func (m *Model) remember(st *modelState, uid, path string) {
	if uid == "" || path == "" {
		return
	}
	if _, ok := st.recordings[uid]; !ok {
		st.recOrder = append(st.recOrder, uid)
	}
	st.recordings[uid] = path
	for len(st.recordings) > m.cfg.MaxRecordings && len(st.recOrder) > 0 {
		delete(st.recordings, st.recOrder[0])
		st.recOrder = st.recOrder[1:]
	}
	if len(st.recOrder) > 2*m.cfg.MaxRecordings {
		kept := st.recOrder[:0]
		for _, u := range st.recOrder {
			if _, ok := st.recordings[u]; ok {
				kept = append(kept, u)
			}
		}
		st.recOrder = kept
	}
}

func (m *Model) forgetRecording(st *modelState, uid string) {
	delete(st.recordings, uid)
}

func (m *Model) member(st *modelState, ev Fields) {
	iface := ev.Get("Interface")
	if iface == "" {
		iface = ev.Get("Location") // the QueueMember list item (61)
	}
	name := ev.Get("MemberName")
	if name == "" {
		name = ev.Get("Name")
	}
	stateIface := ev.Get("StateInterface")
	agent := m.agentOfMember(iface, stateIface)
	if agent == "" {
		return
	}
	k := memberKey{ev.Get("Queue"), agent}
	mr := st.members[k]
	if mr == nil {
		mr = &memberRec{queue: k.queue, agent: agent}
		st.members[k] = mr
		addIndex(st.ofAgent, agent, k, mr)
		st.queue(k.queue)
	}
	st.setStateIface(k, mr, stateIface)
	mr.iface, mr.name = iface, name
	mr.membership = ev.Get("Membership")
	mr.penalty = atoi(ev.Get("Penalty"))
	mr.callsTaken = atoi(ev.Get("CallsTaken"))
	mr.lastCall = atoi64(ev.Get("LastCall"))
	mr.loginTime = atoi64(ev.Get("LoginTime"))
	mr.status = MemberStatus(ev.Get("Status"))
	mr.paused = ev.Get("Paused") == "1"
	mr.pausedReason = ev.Get("PausedReason")
	mr.pausedSince = atoi64(ev.Get("LastPause"))
	if ev.Get("InCall") == "1" {
		mr.inCall = true
	} else if ev.Get("Event") == "QueueMember" {
		mr.inCall = false
	}
	a := st.agent(agent)
	if name != "" && name != iface && !a.listNamed {
		a.name = name
	}
	m.dirtyMembers[k] = struct{}{}
	m.dirtyAgents[agent] = struct{}{}
}

func (m *Model) hintContext(ctx string) bool {
	if len(m.cfg.HintContexts) == 0 {
		return true
	}
	for _, c := range m.cfg.HintContexts {
		if c == ctx {
			return true
		}
	}
	return false
}

func (m *Model) extension(st *modelState, ev Fields) {
	if !m.hintContext(ev.Get("Context")) {
		return
	}
	id := ev.Get("Exten")
	if id == "" {
		return
	}
	a := st.agent(id)
	a.hint, a.hasHint = ExtensionStatus(ev.Get("Status")), true
	// 501: `Custom:agent501&Custom:agent501b`; 502: `Custom:agent502,CustomPresence:agent502`
	hint := ev.Get("Hint")
	if i := strings.IndexByte(hint, ','); i >= 0 {
		hint = hint[:i]
	}
	a.hintDevs = a.hintDevs[:0]
	for _, d := range strings.Split(hint, "&") {
		if d != "" {
			st.hintAgent[d] = id
			a.hintDevs = append(a.hintDevs, d)
		}
	}
	m.dirtyAgents[id] = struct{}{}
}
