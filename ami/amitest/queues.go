package amitest

import (
	"strconv"
	"strings"
	"time"
)

// memberState is a queue member with the counters Asterisk reports.
type memberState struct {
	Member
	queue     string
	callsTook int
	lastCall  int64
	lastPause int64
	loginTime int64
	inCall    bool
	ringInUse bool
}

// queueState is one queue.
type queueState struct {
	name      string
	strategy  string
	members   []*memberState
	callers   []*waitingCaller
	abandoned int
}

// deviceStatus maps a device state to QueueMemberStatus's Status (61_*).
var deviceStatus = map[string]int{
	"UNKNOWN": 0, "NOT_INUSE": 1, "INUSE": 2, "BUSY": 3, "INVALID": 4,
	"UNAVAILABLE": 5, "RINGING": 6, "RINGINUSE": 7, "ONHOLD": 8,
}

func (p *pbxState) deviceState(name string) string {
	for _, d := range p.devices {
		if d.Name == name {
			return d.State
		}
	}
	if strings.HasPrefix(name, "Local/") {
		return "NOT_INUSE"
	}
	return "UNKNOWN"
}

func (m *memberState) status(p *pbxState) int {
	return deviceStatus[p.deviceState(m.StateInterface)]
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// block is the header block every QueueMember* event carries (61_*).
func (m *memberState) block(p *pbxState) []Header {
	membership := "dynamic"
	if m.Static {
		membership = "static"
	}
	return []Header{
		{"Queue", m.queue}, {"MemberName", m.Name}, {"Interface", m.Interface},
		{"StateInterface", m.StateInterface}, {"Membership", membership},
		{"Penalty", itoa(m.Penalty)}, {"CallsTaken", itoa(m.callsTook)},
		{"LastCall", strconv.FormatInt(m.lastCall, 10)}, {"LastPause", strconv.FormatInt(m.lastPause, 10)},
		{"LoginTime", strconv.FormatInt(m.loginTime, 10)}, {"InCall", boolDigit(m.inCall)},
		{"Status", itoa(m.status(p))}, {"Paused", boolDigit(m.Paused)}, {"PausedReason", m.PausedReason},
		{"Ringinuse", boolDigit(m.ringInUse)}, {"Wrapuptime", "0"},
	}
}

// listBlock is the QueueMember list item's form: Name and Location, no
// Ringinuse (30_*, 61_*).
func (m *memberState) listBlock(p *pbxState) []Header {
	b := m.block(p)
	out := make([]Header, 0, len(b))
	for _, h := range b {
		switch h.Name {
		case "MemberName":
			h.Name = "Name"
		case "Interface":
			h.Name = "Location"
		case "Ringinuse":
			continue
		}
		out = append(out, h)
	}
	return out
}

func (q *queueState) available(p *pbxState) bool {
	for _, m := range q.members {
		if !m.Paused && m.status(p) == 1 {
			return true
		}
	}
	return false
}

func (q *queueState) member(iface string) *memberState {
	for _, m := range q.members {
		if m.Interface == iface {
			return m
		}
	}
	return nil
}

func (p *pbxState) queue(name string) *queueState {
	for _, q := range p.queueStates {
		if q.name == name {
			return q
		}
	}
	return nil
}

func availState(ok bool) string {
	if ok {
		return "NOT_INUSE"
	}
	return "INUSE"
}

func devEvent(device, state string) *event {
	return newEvent("DeviceStateChange", "call", []Header{{"Device", device}, {"State", state}})
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "1", "on", "y", "t":
		return true
	}
	return false
}

func init() {
	handlers["queuestatus"] = (*Server).queueStatus
	handlers["queuesummary"] = (*Server).queueSummary
	handlers["queueadd"] = (*Server).queueAdd
	handlers["queueremove"] = (*Server).queueRemove
	handlers["queuepause"] = (*Server).queuePause
	handlers["queuepenalty"] = (*Server).queuePenalty
	handlers["queuememberringinuse"] = (*Server).queueRingInUse
}

func (s *Server) queueStatus(c *session, id string, hs []Header) {
	p := s.state
	qname, member := getHeader(hs, "Queue"), getHeader(hs, "Member")
	var msgs [][]byte
	p.mu.Lock()
	for _, q := range p.queueStates {
		if qname != "" && q.name != qname {
			continue
		}
		{
			msgs = append(msgs, listItem("QueueParams", id, true, []Header{
				{"Queue", q.name}, {"Max", "0"}, {"Strategy", q.strategy}, {"Calls", itoa(len(q.callers))}, {"Holdtime", "0"},
				{"TalkTime", "0"}, {"Completed", "0"}, {"Abandoned", itoa(q.abandoned)}, {"ServiceLevel", "0"},
				{"ServicelevelPerf", "0.0"}, {"ServicelevelPerf2", "0.0"}, {"Weight", "0"}}))
		}
		// Asterisk lists members newest first (61_*).
		for i := len(q.members) - 1; i >= 0; i-- {
			m := q.members[i]
			if member != "" && m.Interface != member {
				continue
			}
			msgs = append(msgs, listItem("QueueMember", id, true, m.listBlock(p)))
		}
		if member == "" {
			for i, w := range q.callers {
				msgs = append(msgs, listItem("QueueEntry", id, true, []Header{
					{"Queue", q.name}, {"Position", itoa(i + 1)}, {"Channel", w.Channel}, {"Uniqueid", w.Uniqueid},
					{"CallerIDNum", w.CallerIDNum}, {"CallerIDName", w.CallerIDName},
					{"ConnectedLineNum", w.CallerIDNum}, {"ConnectedLineName", w.CallerIDName},
					{"Wait", itoa(int(time.Since(w.joined).Seconds()))}, {"Priority", "0"}}))
			}
		}
	}
	p.mu.Unlock()
	s.sendList(c, id, "Queue status will follow", "QueueStatusComplete", msgs, false)
}

func (s *Server) queueSummary(c *session, id string, hs []Header) {
	p := s.state
	qname := getHeader(hs, "Queue")
	var msgs [][]byte
	p.mu.Lock()
	for _, q := range p.queueStates {
		if qname != "" && q.name != qname {
			continue
		}
		loggedIn, avail := 0, 0
		for _, m := range q.members {
			st := m.status(p)
			if st != 5 && st != 4 {
				loggedIn++
			}
			if !m.Paused && st == 1 {
				avail++
			}
		}
		longest := 0
		for _, w := range q.callers {
			longest = max(longest, int(time.Since(w.joined).Seconds()))
		}
		msgs = append(msgs, listItem("QueueSummary", id, true, []Header{
			{"Queue", q.name}, {"LoggedIn", itoa(loggedIn)}, {"Available", itoa(avail)}, {"Callers", itoa(len(q.callers))},
			{"HoldTime", "0"}, {"TalkTime", "0"}, {"LongestHoldTime", itoa(longest)}}))
	}
	p.mu.Unlock()
	s.sendList(c, id, "Queue summary will follow", "QueueSummaryComplete", msgs, false)
}

// sendList sends a list reply: the start response, the items, and the
// Complete event with ListItems (and Items, for Status).
func (s *Server) sendList(c *session, id, message, complete string, items [][]byte, withItems bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueueLocked(encode(response("Success", id, Header{"EventList", "start"}, Header{"Message", message})))
	for _, it := range items {
		c.enqueueLocked(it)
	}
	rest := []Header{{"EventList", "Complete"}, {"ListItems", itoa(len(items))}}
	if withItems {
		rest = append(rest, Header{"Items", itoa(len(items))})
	}
	c.enqueueLocked(listItem(complete, id, false, rest))
}

func (s *Server) queueAdd(c *session, id string, hs []Header) {
	p := s.state
	iface := getHeader(hs, "Interface")
	if iface == "" {
		c.send(failure(id, "'Interface' not specified."))
		return
	}
	p.mu.Lock()
	q := p.queue(getHeader(hs, "Queue"))
	if q == nil {
		p.mu.Unlock()
		c.send(failure(id, "Unable to add interface to queue: No such queue"))
		return
	}
	if q.member(iface) != nil {
		p.mu.Unlock()
		c.send(failure(id, "Unable to add interface: Already there"))
		return
	}
	wasAvail := q.available(p)
	m := &memberState{Member: Member{Interface: iface, Name: getHeader(hs, "MemberName"),
		StateInterface: getHeader(hs, "StateInterface"), Paused: truthy(getHeader(hs, "Paused")),
		PausedReason: getHeader(hs, "Reason")}, queue: q.name, loginTime: time.Now().Unix()}
	if m.Name == "" {
		m.Name = iface
	}
	if m.StateInterface == "" {
		m.StateInterface = iface
	}
	m.Penalty, _ = strconv.Atoi(getHeader(hs, "Penalty"))
	q.members = append(q.members, m)
	evs := []*event{
		devEvent("Queue:"+q.name+"_pause_"+iface, availState(!m.Paused)),
		newEvent("QueueMemberAdded", "agent", m.block(p)),
	}
	if avail := q.available(p); avail != wasAvail {
		evs = append(evs, devEvent("Queue:"+q.name+"_avail", availState(avail)))
	}
	p.mu.Unlock()
	c.send(success(id, "Added interface to queue"))
	for _, e := range evs {
		s.broadcast(e)
	}
}

func (s *Server) queueRemove(c *session, id string, hs []Header) {
	p := s.state
	qname, iface := getHeader(hs, "Queue"), getHeader(hs, "Interface")
	if qname == "" || iface == "" {
		c.send(failure(id, "Need 'Queue' and 'Interface' parameters."))
		return
	}
	p.mu.Lock()
	q := p.queue(qname)
	if q == nil {
		p.mu.Unlock()
		c.send(failure(id, "Unable to remove interface from queue: No such queue"))
		return
	}
	m := q.member(iface)
	switch {
	case m == nil:
		p.mu.Unlock()
		c.send(failure(id, "Unable to remove interface: Not there"))
		return
	case m.Static:
		p.mu.Unlock()
		c.send(failure(id, "Member not dynamic"))
		return
	}
	wasAvail := q.available(p)
	for i, x := range q.members {
		if x == m {
			q.members = append(q.members[:i], q.members[i+1:]...)
			break
		}
	}
	evs := []*event{newEvent("QueueMemberRemoved", "agent", m.block(p))}
	if avail := q.available(p); avail != wasAvail {
		evs = append(evs, devEvent("Queue:"+q.name+"_avail", availState(avail)))
	}
	p.mu.Unlock()
	c.send(success(id, "Removed interface from queue"))
	for _, e := range evs {
		s.broadcast(e)
	}
}

// membersFor is every member with that interface in the named queue, or in
// every queue when qname is "".
func (p *pbxState) membersFor(qname, iface string) []*memberState {
	var out []*memberState
	for _, q := range p.queueStates {
		if qname != "" && q.name != qname {
			continue
		}
		if m := q.member(iface); m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (s *Server) queuePause(c *session, id string, hs []Header) {
	p := s.state
	iface, paused := getHeader(hs, "Interface"), getHeader(hs, "Paused")
	if iface == "" || paused == "" {
		c.send(failure(id, "Need 'Interface' and 'Paused' parameters."))
		return
	}
	pause := truthy(paused)
	reason := getHeader(hs, "Reason")
	p.mu.Lock()
	ms := p.membersFor(getHeader(hs, "Queue"), iface)
	if len(ms) == 0 {
		p.mu.Unlock()
		c.send(failure(id, "Interface not found"))
		return
	}
	var evs []*event
	for _, m := range ms {
		q := p.queue(m.queue)
		wasAvail := q.available(p)
		changed := m.Paused != pause
		m.Paused, m.PausedReason = pause, reason
		if pause {
			m.lastPause = time.Now().Unix()
		}
		if changed {
			evs = append(evs, devEvent("Queue:"+q.name+"_pause_"+iface, availState(!pause)))
		}
		if avail := q.available(p); avail != wasAvail {
			evs = append(evs, devEvent("Queue:"+q.name+"_avail", availState(avail)))
		}
		evs = append(evs, newEvent("QueueMemberPause", "agent", m.block(p)))
		if !pause {
			// an unpause's Reason shows in its event only (61_*)
			m.PausedReason = ""
		}
	}
	p.mu.Unlock()
	if pause {
		c.send(success(id, "Interface paused successfully"))
	} else {
		c.send(success(id, "Interface unpaused successfully"))
	}
	for _, e := range evs {
		s.broadcast(e)
	}
}

func (s *Server) queuePenalty(c *session, id string, hs []Header) {
	p := s.state
	iface, pen := getHeader(hs, "Interface"), getHeader(hs, "Penalty")
	if iface == "" || pen == "" {
		c.send(failure(id, "Need 'Interface' and 'Penalty' parameters."))
		return
	}
	n, _ := strconv.Atoi(pen) // `Penalty: abc` is accepted as 0 (61_*)
	p.mu.Lock()
	ms := p.membersFor(getHeader(hs, "Queue"), iface)
	if len(ms) == 0 || n < 0 {
		p.mu.Unlock()
		c.send(failure(id, "Invalid interface, queuename or penalty"))
		return
	}
	var evs []*event
	for _, m := range ms {
		m.Penalty = n
		evs = append(evs, newEvent("QueueMemberPenalty", "agent", m.block(p)))
	}
	p.mu.Unlock()
	c.send(success(id, "Interface penalty set successfully"))
	for _, e := range evs {
		s.broadcast(e)
	}
}

func (s *Server) queueRingInUse(c *session, id string, hs []Header) {
	p := s.state
	iface := getHeader(hs, "Interface")
	p.mu.Lock()
	ms := p.membersFor(getHeader(hs, "Queue"), iface)
	if iface == "" || len(ms) == 0 {
		p.mu.Unlock()
		// the captured bare-LF reply (61_*)
		c.send(bareLFMessage("Error", id, "Invalid interface, queuename, or ringinuse value"))
		return
	}
	on := truthy(getHeader(hs, "RingInUse"))
	var evs []*event
	for _, m := range ms {
		m.ringInUse = on
		evs = append(evs, newEvent("QueueMemberRinginuse", "agent", m.block(p)))
	}
	p.mu.Unlock()
	c.send(success(id, "Interface ringinuse set successfully"))
	for _, e := range evs {
		s.broadcast(e)
	}
}
