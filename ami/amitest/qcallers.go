package amitest

import (
	"errors"
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
