package amitest

import (
	"errors"
	"strings"
	"time"
)

// QueueCaller is a caller waiting in a queue, for the call-centre tests:
// JoinQueue puts it there (QueueCallerJoin, a QueueEntry item in
// QueueStatus, Calls/Callers counts, a channel in CoreShowChannels), and
// AbandonQueue or LeaveQueue takes it out, with the events of 63_*.
type QueueCaller struct {
	Channel      string // e.g. Local/5554444@customer-00000006;1
	Uniqueid     string
	CallerIDNum  string
	CallerIDName string
	Context      string // where the caller's dialplan is; default "qcaller" (the captures')
	Exten        string // default the queue's name
}

type waitingCaller struct {
	QueueCaller
	joined           time.Time
	originalPosition int
}

// ErrNoSuchQueue and ErrNotInQueue are returned by the queue-caller helpers.
var (
	ErrNoSuchQueue = errors.New("amitest: no such queue")
	ErrNotInQueue  = errors.New("amitest: caller not in queue")
)

func (w *waitingCaller) snapshot() []Header {
	return []Header{{"Channel", w.Channel}, {"ChannelState", "6"}, {"ChannelStateDesc", "Up"},
		{"CallerIDNum", w.CallerIDNum}, {"CallerIDName", w.CallerIDName},
		{"ConnectedLineNum", w.CallerIDNum}, {"ConnectedLineName", w.CallerIDName},
		{"Language", "en"}, {"AccountCode", ""}, {"Context", w.Context}, {"Exten", w.Exten},
		{"Priority", "2"}, {"Uniqueid", w.Uniqueid}, {"Linkedid", w.Uniqueid}}
}

// JoinQueue makes c wait in queue.
func (s *Server) JoinQueue(queue string, c QueueCaller) error {
	if c.Context == "" {
		c.Context = "qcaller"
	}
	if c.Exten == "" {
		c.Exten = queue
	}
	p := s.state
	p.mu.Lock()
	q := p.queue(queue)
	if q == nil {
		p.mu.Unlock()
		return ErrNoSuchQueue
	}
	w := &waitingCaller{QueueCaller: c, joined: time.Now(), originalPosition: len(q.callers) + 1}
	q.callers = append(q.callers, w)
	p.order++
	ch := &channel{name: c.Channel, uniqueid: c.Uniqueid, linkedid: c.Uniqueid, vars: map[string]string{},
		snap: map[string]string{}, created: w.joined, order: p.order, app: "Queue", appData: queue}
	for _, h := range w.snapshot() {
		ch.snap[h.Name] = h.Value
	}
	p.channels[c.Channel] = ch
	ev := newEvent("QueueCallerJoin", "agent", append(w.snapshot(),
		Header{"Queue", queue}, Header{"Position", itoa(len(q.callers))}, Header{"Count", itoa(len(q.callers))}))
	p.mu.Unlock()
	s.broadcast(ev)
	return nil
}

// AbandonQueue is the caller hanging up while waiting: QueueCallerAbandon
// then QueueCallerLeave (63_*); the caller's channel is gone.
func (s *Server) AbandonQueue(queue, uniqueid string) error {
	return s.leaveQueue(queue, uniqueid, true)
}

// LeaveQueue takes the caller out of the queue (answered by an agent):
// QueueCallerLeave; the caller's channel stays.
func (s *Server) LeaveQueue(queue, uniqueid string) error {
	return s.leaveQueue(queue, uniqueid, false)
}

func (s *Server) leaveQueue(queue, uniqueid string, abandon bool) error {
	p := s.state
	p.mu.Lock()
	q := p.queue(queue)
	if q == nil {
		p.mu.Unlock()
		return ErrNoSuchQueue
	}
	pos := -1
	for i, w := range q.callers {
		if w.Uniqueid == uniqueid {
			pos = i
		}
	}
	if pos < 0 {
		p.mu.Unlock()
		return ErrNotInQueue
	}
	w := q.callers[pos]
	q.callers = append(q.callers[:pos], q.callers[pos+1:]...)
	var evs []*event
	if abandon {
		q.abandoned++
		evs = append(evs, newEvent("QueueCallerAbandon", "agent", append(w.snapshot(),
			Header{"Queue", queue}, Header{"Position", itoa(pos + 1)},
			Header{"OriginalPosition", itoa(w.originalPosition)},
			Header{"HoldTime", itoa(int(time.Since(w.joined).Seconds()))})))
		delete(p.channels, w.Channel)
	}
	evs = append(evs, newEvent("QueueCallerLeave", "agent", append(w.snapshot(),
		Header{"Queue", queue}, Header{"Position", itoa(pos + 1)}, Header{"Count", itoa(len(q.callers))})))
	p.mu.Unlock()
	for _, e := range evs {
		s.broadcast(e)
	}
	return nil
}

// QueueAnswer scripts how a member answers a waiting caller (62_*).
type QueueAnswer struct {
	Interface string        // the member that answers, e.g. Local/510@agent/n
	Ring      time.Duration // AgentCalled to AgentConnect
	Talk      time.Duration // AgentConnect to AgentComplete
	Reason    string        // AgentComplete's Reason: "agent" (default) or "caller"
	// Recording, when set, is the absolute file name the queue records to:
	// it appears only in `VarSet MIXMONITOR_FILENAME` (dialplan class) on
	// the caller's channel, just before QueueCallerLeave.
	Recording string
}

// ErrNoSuchMember is returned by AnswerQueueCall for an unknown interface.
var ErrNoSuchMember = errors.New("amitest: no such queue member")

// AnswerQueueCall plays a member answering the waiting caller uniqueid, in
// the captured order: AgentCalled, (Ring) [VarSet MIXMONITOR_FILENAME],
// QueueCallerLeave, AgentConnect (HoldTime, RingTime in seconds), (Talk)
// AgentComplete (HoldTime, TalkTime, Reason), then QueueMemberStatus with
// CallsTaken+1 and LastCall; the caller's channel is then gone. Bridge*,
// Dial*, MusicOnHold and Hangup events are not sent. It returns at once; the
// rest plays on its own goroutine.
func (s *Server) AnswerQueueCall(queue, uniqueid string, a QueueAnswer) error {
	if a.Reason == "" {
		a.Reason = "agent"
	}
	p := s.state
	p.mu.Lock()
	q := p.queue(queue)
	if q == nil {
		p.mu.Unlock()
		return ErrNoSuchQueue
	}
	var w *waitingCaller
	for _, x := range q.callers {
		if x.Uniqueid == uniqueid {
			w = x
		}
	}
	m := q.member(a.Interface)
	if w == nil || m == nil {
		p.mu.Unlock()
		if w == nil {
			return ErrNotInQueue
		}
		return ErrNoSuchMember
	}
	p.seq++
	p.uid++
	dest, _, _ := strings.Cut(strings.TrimPrefix(m.Interface, "Local/"), "/")
	destCtx := ""
	if _, c, ok := strings.Cut(dest, "@"); ok {
		destCtx = c
	}
	destChan := "Local/" + dest + "-" + fmtSeq(p.seq) + ";1"
	destUID := itoa(int(time.Now().Unix())) + "." + itoa(p.uid)
	p.mu.Unlock()
	destSnap := func(state, desc string) []Header {
		return []Header{{"DestChannel", destChan}, {"DestChannelState", state}, {"DestChannelStateDesc", desc},
			{"DestCallerIDNum", w.CallerIDNum}, {"DestCallerIDName", w.CallerIDName},
			{"DestConnectedLineNum", w.CallerIDNum}, {"DestConnectedLineName", w.CallerIDName},
			{"DestLanguage", "en"}, {"DestAccountCode", ""}, {"DestContext", destCtx}, {"DestExten", queue},
			{"DestPriority", "1"}, {"DestUniqueid", destUID}, {"DestLinkedid", w.Uniqueid}}
	}
	agentEvent := func(name, state, desc string, extra ...Header) *event {
		hs := append(w.snapshot(), destSnap(state, desc)...)
		hs = append(hs, Header{"Queue", queue}, Header{"Interface", m.Interface}, Header{"MemberName", m.Name})
		return newEvent(name, "agent", append(hs, extra...))
	}
	s.broadcast(agentEvent("AgentCalled", "5", "Ringing"))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rang := time.Now()
		if !sleepCtx(s.ctx, a.Ring) {
			return
		}
		if a.Recording != "" {
			s.broadcast(newEvent("VarSet", "dialplan", append(w.snapshot(),
				Header{"Variable", "MIXMONITOR_FILENAME"}, Header{"Value", a.Recording})))
		}
		hold := int(time.Since(w.joined).Seconds())
		ring := int(time.Since(rang).Seconds())
		if err := s.LeaveQueue(queue, uniqueid); err != nil {
			return // the caller went away meanwhile
		}
		p.mu.Lock()
		m.inCall = true
		p.mu.Unlock()
		s.broadcast(agentEvent("AgentConnect", "6", "Up", Header{"HoldTime", itoa(hold)}, Header{"RingTime", itoa(ring)}))
		connected := time.Now()
		if !sleepCtx(s.ctx, a.Talk) {
			return
		}
		s.broadcast(agentEvent("AgentComplete", "6", "Up", Header{"HoldTime", itoa(hold)},
			Header{"TalkTime", itoa(int(time.Since(connected).Seconds()))}, Header{"Reason", a.Reason}))
		p.mu.Lock()
		m.inCall = false
		m.callsTook++
		m.lastCall = time.Now().Unix()
		delete(p.channels, w.Channel)
		ev := newEvent("QueueMemberStatus", "agent", m.block(p))
		p.mu.Unlock()
		s.broadcast(ev)
	}()
	return nil
}
