package callcenter

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HubConfig tunes the fan-out.
type HubConfig struct {
	// Retention is how long published events are kept for Last-Event-ID
	// resume (default 10 minutes).
	Retention time.Duration
	// MaxRetained bounds the events kept whatever their age (default 200,000).
	MaxRetained int
	// Buffer is how many frames a subscriber may have unwritten before it
	// is dropped (default 256). A dropped client resumes with Last-Event-ID.
	Buffer int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Metrics, when set, counts events, subscribers and drops.
	Metrics *Metrics
}

// frame is one encoded SSE message, shared by every subscriber it goes to.
type frame struct {
	seq  uint64
	at   time.Time
	ev   Event
	data []byte // "id: …\nevent: …\ndata: …\n\n"
	snap []byte // the same without id, for snapshots; made on first use under Hub.mu
}

// Hub numbers digested events, keeps them for the retention window, keeps
// the current facts for snapshots, and hands each event to the
// subscriptions whose scope allows it, found through an index by agent and
// by queue (never by scanning every subscriber). It never blocks on a
// subscriber: one whose buffer is full is dropped.
type Hub struct {
	cfg   HubConfig
	epoch string

	mu      sync.Mutex
	seq     uint64
	log     []*frame // retained, oldest first; log[head:] is live
	head    int
	facts   map[factKey]*frame
	stale   *frame
	byAgent subIndex
	byQueue subIndex
	all     map[*Subscriber]struct{} // every subscriber (scope-less events)
}

// Subscriber is one client's stream. Its frames arrive on a channel that
// is closed when the subscriber is dropped (Dropped reports true) or
// cancelled.
type Subscriber struct {
	scope   Scope
	owner   string
	agents  map[string]struct{}
	queues  map[string]struct{}
	anyAg   bool
	anyQ    bool
	ch      chan *frame
	closed  bool
	dropped bool
}

// NewHub returns an empty hub. Its ids are "<epoch>.<n>", with the epoch
// taken from the start time, so an id from before a restart is recognised
// as unknown instead of being mistaken for a recent one.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Retention <= 0 {
		cfg.Retention = 10 * time.Minute
	}
	if cfg.MaxRetained <= 0 {
		cfg.MaxRetained = 200000
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 256
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Hub{
		cfg:     cfg,
		epoch:   strconv.FormatInt(cfg.Now().UnixNano(), 36),
		facts:   map[factKey]*frame{},
		byAgent: subIndex{},
		byQueue: subIndex{},
		all:     map[*Subscriber]struct{}{},
	}
}

func (h *Hub) id(seq uint64) string { return h.epoch + "." + strconv.FormatUint(seq, 10) }

func encodeFrame(id string, ev *Event) []byte {
	b := make([]byte, 0, 160)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b = ev.appendJSON(b)
	return append(b, '\n', '\n')
}

// Publish numbers and delivers events, in order.
func (h *Hub) Publish(evs ...Event) {
	if len(evs) == 0 {
		return
	}
	now := h.cfg.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range evs {
		h.seq++
		f := &frame{seq: h.seq, at: now, ev: evs[i]}
		f.data = encodeFrame(h.id(h.seq), &f.ev)
		h.log = append(h.log, f)
		switch ev := &f.ev; {
		case ev.isFact() && ev.isAbsence():
			delete(h.facts, ev.key())
		case ev.isFact():
			h.facts[ev.key()] = f
		case ev.Type == TypeStale:
			h.stale = f
		case ev.Type == TypeResynced:
			h.stale = nil
		}
		h.fanOut(f)
		h.cfg.Metrics.published(f.ev.Type)
	}
	h.pruneLocked(now)
}

func (h *Hub) pruneLocked(now time.Time) {
	cut := now.Add(-h.cfg.Retention)
	for h.head < len(h.log) && (len(h.log)-h.head > h.cfg.MaxRetained || h.log[h.head].at.Before(cut)) {
		h.log[h.head] = nil
		h.head++
	}
	if h.head > 1024 && h.head*2 > len(h.log) {
		h.log = append(h.log[:0:0], h.log[h.head:]...)
		h.head = 0
	}
}

func (h *Hub) fanOut(f *frame) {
	ev := &f.ev
	switch {
	case ev.HasAgentScope():
		for s := range h.byAgent[ev.Agent] {
			if !ev.HasQueueScope() || s.hasQueue(ev.Queue) {
				h.send(s, f)
			}
		}
		for s := range h.byAgent[Any] {
			if _, named := s.agents[ev.Agent]; !named && (!ev.HasQueueScope() || s.hasQueue(ev.Queue)) {
				h.send(s, f)
			}
		}
	case ev.HasQueueScope():
		for s := range h.byQueue[ev.Queue] {
			h.send(s, f)
		}
		for s := range h.byQueue[Any] {
			if _, named := s.queues[ev.Queue]; !named {
				h.send(s, f)
			}
		}
	case ev.Type == TypeOriginateFailed && ev.Owner != "":
		// scope-less in pbxis, but it is one client's business
		for s := range h.all {
			if s.owner == ev.Owner {
				h.send(s, f)
			}
		}
	default:
		for s := range h.all {
			h.send(s, f)
		}
	}
}

func (s *Subscriber) hasQueue(q string) bool {
	if s.anyQ {
		return true
	}
	_, ok := s.queues[q]
	return ok
}

func (s *Subscriber) sees(f *frame) bool {
	if f.ev.Type == TypeOriginateFailed && f.ev.Owner != "" && f.ev.Owner != s.owner {
		return false
	}
	return s.scope.Allows(&f.ev)
}

func (h *Hub) send(s *Subscriber, f *frame) {
	select {
	case s.ch <- f:
	default:
		h.dropLocked(s, true)
	}
}

func (h *Hub) dropLocked(s *Subscriber, slow bool) {
	if s.closed {
		return
	}
	s.closed, s.dropped = true, slow
	indexKeys(s.agents, s.anyAg, func(a string) { h.byAgent.remove(a, s) })
	indexKeys(s.queues, s.anyQ, func(q string) { h.byQueue.remove(q, s) })
	delete(h.all, s)
	close(s.ch)
	h.cfg.Metrics.subscriberGone(slow)
}

// Opening says how a subscription started.
type Opening struct {
	// Resumed is true when Last-Event-ID was honoured: Frames are exactly
	// the events after it. Otherwise Frames are a fresh snapshot.
	Resumed bool
	// Reason says why a snapshot was sent: "new" (no Last-Event-ID),
	// "expired" (older than the retention window), "unknown" (another
	// epoch or not an id of ours).
	Reason string
	// Frames are written before anything from C.
	Frames [][]byte
}

// Subscribe registers a subscriber. With a lastEventID inside the
// retention window it gets exactly the events after it; otherwise the
// snapshot: a `snapshot` event, the current facts in scope, then a
// `snapshotEnd` event carrying the id to resume from. The registration
// and the catch-up happen under one lock, so nothing is missed or doubled.
func (h *Hub) Subscribe(scope Scope, owner, lastEventID string) (*Subscriber, Opening) {
	s := &Subscriber{scope: scope, owner: owner, agents: map[string]struct{}{}, queues: map[string]struct{}{},
		ch: make(chan *frame, h.cfg.Buffer)}
	for _, a := range scope.Agents {
		if a == Any {
			s.anyAg = true
		} else {
			s.agents[a] = struct{}{}
		}
	}
	for _, q := range scope.Queues {
		if q == Any {
			s.anyQ = true
		} else {
			s.queues[q] = struct{}{}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pruneLocked(h.cfg.Now())
	var op Opening
	if lastEventID == "" {
		op.Reason = "new"
	} else if seq, ok := h.parseID(lastEventID); !ok {
		op.Reason = "unknown"
	} else if first := h.firstRetained(); seq+1 < first {
		op.Reason = "expired"
	} else {
		op.Resumed = true
		// the log holds consecutive seqs from first on
		for _, f := range h.log[h.head+int(seq+1-first):] {
			if s.sees(f) {
				op.Frames = append(op.Frames, f.data)
			}
		}
	}
	if !op.Resumed {
		op.Frames = h.snapshotLocked(s, op.Reason)
	}
	h.register(s)
	h.cfg.Metrics.subscriberAdded()
	return s, op
}

func (h *Hub) firstRetained() uint64 {
	if h.head < len(h.log) {
		return h.log[h.head].seq
	}
	return h.seq + 1
}

func (h *Hub) parseID(id string) (uint64, bool) {
	ep, n, ok := strings.Cut(id, ".")
	if !ok || ep != h.epoch {
		return 0, false
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil || seq > h.seq {
		return 0, false
	}
	return seq, true
}

func (h *Hub) snapshotLocked(s *Subscriber, reason string) [][]byte {
	fs := make([]*frame, 0, len(h.facts))
	for _, f := range h.facts {
		if s.scope.Allows(&f.ev) {
			fs = append(fs, f)
		}
	}
	sort.Slice(fs, func(i, j int) bool { return lessKey(fs[i].ev.key(), fs[j].ev.key()) })
	out := make([][]byte, 0, len(fs)+3)
	out = append(out, []byte(`event: snapshot`+"\n"+`data: {"type":"snapshot","resumed":false,"reason":"`+reason+`"}`+"\n\n"))
	for _, f := range fs {
		if f.snap == nil {
			f.snap = encodeFrame("", &f.ev)
		}
		out = append(out, f.snap)
	}
	if h.stale != nil {
		out = append(out, encodeFrame("", &h.stale.ev))
	}
	out = append(out, []byte("id: "+h.id(h.seq)+"\nevent: snapshotEnd\ndata: {\"type\":\"snapshotEnd\"}\n\n"))
	return out
}

type subIndex map[string]map[*Subscriber]struct{}

func (ix subIndex) add(key string, s *Subscriber) {
	m := ix[key]
	if m == nil {
		m = map[*Subscriber]struct{}{}
		ix[key] = m
	}
	m[s] = struct{}{}
}

func (ix subIndex) remove(key string, s *Subscriber) {
	delete(ix[key], s)
	if len(ix[key]) == 0 {
		delete(ix, key)
	}
}

// indexKeys are the index entries of a subscriber: its names, and Any
// when it asked for every agent or queue.
func indexKeys(names map[string]struct{}, every bool, f func(string)) {
	for n := range names {
		f(n)
	}
	if every {
		f(Any)
	}
}

func (h *Hub) register(s *Subscriber) {
	indexKeys(s.agents, s.anyAg, func(a string) { h.byAgent.add(a, s) })
	indexKeys(s.queues, s.anyQ, func(q string) { h.byQueue.add(q, s) })
	h.all[s] = struct{}{}
}

// Cancel removes the subscriber (its client went away).
func (h *Hub) Cancel(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(s, false)
}

// Dropped reports whether the hub dropped the subscriber for falling behind.
// Read it after its channel is closed.
func (h *Hub) Dropped(s *Subscriber) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return s.dropped
}

// Subscribers returns how many subscribers are registered.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.all)
}

// LastID returns the id of the newest event ("" before the first).
func (h *Hub) LastID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seq == 0 {
		return ""
	}
	return h.id(h.seq)
}
