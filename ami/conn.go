package ami

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsivr/fsivr/internal/mailbox"
	"github.com/fsivr/fsivr/internal/netctx"
)

// Stats are counters of a subscription's mailbox or of a connection.
type Stats struct {
	EventsQueued       uint64 // events put in the mailbox(es)
	RepliesUnclaimed   uint64 // responses nobody waited for (late, or not ours)
	QueueDepth         int    // events waiting to be drained now
	MaxQueueDepth      int    // highest depth seen
	HighWaterCrossings uint64 // times the depth rose above the high-water mark
}

// pending is an action waiting for its reply (and list items).
type pending struct {
	action string
	ch     chan *Response // cap 1: the reader never blocks on it
	resp   *Message       // set when a list's start reply came
	items  []*Message
}

// Conn is the connection layer that Client embeds: one reader goroutine
// that only frames and dispatches, replies matched by ActionID, a
// serialized writer and per-subscription ordered mailboxes. It is safe for
// concurrent use.
type Conn struct {
	nc     net.Conn
	rd     *Reader
	cfg    Config
	log    *slog.Logger
	banner string
	prefix string
	seq    atomic.Uint64

	wmu sync.Mutex // serializes writes

	mu          sync.Mutex
	pending     map[string]*pending
	closed      bool
	closeReason error
	unclaimed   uint64

	subs atomic.Pointer[[]*Subscription] // copy on write, read by the reader without a lock

	done      chan struct{}
	booted    chan struct{}
	bootOnce  sync.Once
	goodbye   atomic.Bool // Logoff answered Goodbye
	shutdown  atomic.Bool // Asterisk announced Shutdown
	loggedIn  atomic.Bool
	readerWG  sync.WaitGroup
	keepalive sync.Once
}

func newConn(nc net.Conn, rd *Reader, cfg Config, banner string) *Conn {
	prefix := cfg.ActionIDPrefix
	if prefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		prefix = "fsivr-" + hex.EncodeToString(b[:]) + "-"
	}
	c := &Conn{
		nc:      nc,
		rd:      rd,
		cfg:     cfg,
		log:     cfg.Logger.With("peer", nc.RemoteAddr().String()),
		banner:  banner,
		prefix:  prefix,
		pending: map[string]*pending{},
		done:    make(chan struct{}),
		booted:  make(chan struct{}),
	}
	c.subs.Store(&[]*Subscription{})
	return c
}

func (c *Conn) start() {
	if g, ok := c.rd.src.(*netctx.StallReader); ok {
		g.Timeout = c.cfg.StallTimeout // after the banner, which has its own bound
	}
	c.readerWG.Add(1)
	go c.readLoop()
}

// newConnReader returns the Reader of a connection, reading through a
// netctx.StallReader that Conn.start arms.
func newConnReader(nc net.Conn, cfg Config) *Reader {
	g := &netctx.StallReader{Conn: nc, Stalled: ErrStalled}
	r := NewReader(g, cfg.MaxFrame)
	g.Buffered = r.Buffered
	return r
}

// readLoop frames messages and dispatches them. It never waits on a
// consumer: replies go to buffered channels, events to unbounded mailboxes
// (Asterisk cuts a session that leaves about 4 MB unread).
func (c *Conn) readLoop() {
	defer c.readerWG.Done()
	defer c.recoverReader()
	for {
		m, err := c.rd.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF) && c.goodbye.Load():
				c.fail(fmt.Errorf("%w: logged off", ErrClosed))
			case errors.Is(err, io.EOF) && c.shutdown.Load():
				c.fail(fmt.Errorf("%w: Asterisk shut down", ErrClosed))
			case errors.Is(err, io.EOF):
				c.fail(fmt.Errorf("%w: unexpected EOF from Asterisk", ErrClosed))
			default:
				c.fail(fmt.Errorf("ami: read: %w", err))
			}
			return
		}
		c.dispatch(m)
	}
}

// recoverReader, deferred by readLoop, turns a panic in the framing or the
// dispatch into the end of this one connection: a bug met on one peer's
// bytes must not end every other connection of the process.
func (c *Conn) recoverReader() {
	if r := recover(); r != nil {
		c.log.Error("ami: reader panicked; closing the connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		c.fail(fmt.Errorf("%w: reader panic: %v", ErrInternal, r))
	}
}

func (c *Conn) dispatch(m *Message) {
	if m.IsEvent() {
		if id := m.ActionID(); id != "" && strings.HasPrefix(id, c.prefix) && c.listItem(id, m) {
			return
		}
		switch m.Name() {
		case "FullyBooted":
			c.bootOnce.Do(func() { close(c.booted) })
		case "Shutdown":
			c.shutdown.Store(true)
		}
		c.publish(m)
		return
	}
	id := m.ActionID()
	c.mu.Lock()
	p := c.pending[id]
	if p == nil {
		c.unclaimed++
		c.mu.Unlock()
		// Not ours (no ActionID, another client's) or late (its caller
		// gave up): never a reason to block or to end the connection.
		c.log.Debug("ami: reply nobody waits for", "action_id", id, "response", m.Response())
		return
	}
	if isListStart(m) {
		p.resp = m
		c.mu.Unlock()
		return
	}
	delete(c.pending, id)
	c.mu.Unlock()
	if strings.EqualFold(m.Response(), "Goodbye") {
		c.goodbye.Store(true)
	}
	p.ch <- &Response{Message: m}
}

// listItem gives an event carrying one of our ActionIDs to the list action
// collecting it; false if no list is collecting (OriginateResponse, or a
// list whose caller gave up: those go to the subscriptions).
func (c *Conn) listItem(id string, m *Message) bool {
	c.mu.Lock()
	p := c.pending[id]
	if p == nil || p.resp == nil {
		c.mu.Unlock()
		return false
	}
	if !isListComplete(m) {
		p.items = append(p.items, m)
		c.mu.Unlock()
		return true
	}
	delete(c.pending, id)
	c.mu.Unlock()
	p.ch <- &Response{Message: p.resp, Items: p.items, Complete: m}
	return true
}

// isListStart: `EventList: start`, or the "... will follow" of Asterisk
// versions that did not send EventList.
func isListStart(m *Message) bool {
	if strings.EqualFold(m.Get("EventList"), "start") {
		return true
	}
	return !isFailure(m.Response()) && strings.HasSuffix(m.Get("Message"), "will follow")
}

func isListComplete(m *Message) bool {
	if v, ok := m.Lookup("EventList"); ok {
		return strings.EqualFold(v, "Complete")
	}
	return strings.HasSuffix(m.Name(), "Complete")
}

func isFailure(resp string) bool {
	return strings.EqualFold(resp, "Error") || strings.EqualFold(resp, "Failure")
}

// publish appends an event to every subscription that wants it.
func (c *Conn) publish(m *Message) {
	for _, s := range *c.subs.Load() {
		if s.wants(m) {
			s.put(m)
		}
	}
}

// Subscribe returns a subscription to the named events (every event when
// no name is given), matched case-insensitively, in arrival order from now
// on. Read it with Notify and Drain; the reader never waits for it.
func (c *Conn) Subscribe(names ...string) *Subscription {
	s := &Subscription{
		c:     c,
		names: append([]string(nil), names...),
		mb:    mailbox.New[*Message](mailbox.Limits{HighWater: c.cfg.HighWater, Max: c.cfg.MaxQueue}),
		done:  make(chan struct{}),
	}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		old := *c.subs.Load()
		next := append(append(make([]*Subscription, 0, len(old)+1), old...), s)
		c.subs.Store(&next)
	}
	c.mu.Unlock()
	if closed {
		s.end(c.Err())
	}
	return s
}

func (c *Conn) unsubscribe(s *Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.subs.Load()
	next := make([]*Subscription, 0, len(old))
	for _, o := range old {
		if o != s {
			next = append(next, o)
		}
	}
	c.subs.Store(&next)
}

// Done is closed when the connection is gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Booted is closed when FullyBooted arrives. After a restart Asterisk
// accepts Login before it has booted (up to 339 ms earlier in the
// captures): wait for this before trusting list actions.
func (c *Conn) Booted() <-chan struct{} { return c.booted }

// Banner is the manager version Asterisk announced ("11.0.0").
func (c *Conn) Banner() string { return c.banner }

// Err is why the connection ended (nil while it is up). Clean ends
// (Close, Logoff, an announced Shutdown) match ErrClosed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeReason
}

// Stats counts replies nobody waited for and sums the subscriptions.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	s := Stats{RepliesUnclaimed: c.unclaimed}
	c.mu.Unlock()
	for _, sub := range *c.subs.Load() {
		st := sub.Stats()
		s.EventsQueued += st.EventsQueued
		s.QueueDepth += st.QueueDepth
		s.MaxQueueDepth = max(s.MaxQueueDepth, st.MaxQueueDepth)
		s.HighWaterCrossings += st.HighWaterCrossings
	}
	return s
}

// fail ends the connection with err (the first reason wins), fails every
// pending action and ends every subscription, and logs once.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeReason = err
	c.mu.Unlock()
	_ = c.nc.Close()
	close(c.done)
	for _, s := range *c.subs.Load() {
		s.end(err)
	}
	if errors.Is(err, ErrClosed) {
		c.log.Debug("ami: connection closed", "reason", err)
	} else {
		c.log.Warn("ami: connection failed", "err", err)
	}
}

// Close closes the connection and waits for the reader to stop.
func (c *Conn) Close() error {
	c.fail(fmt.Errorf("%w: closed by us", ErrClosed))
	c.readerWG.Wait()
	return nil
}

// roundTrip sends one action with our ActionID and waits for its reply
// (and, for a list action, every item up to the ...Complete event). The
// pending entry is removed on every path. A Response: Error or Failure
// gives a *ResponseError along with the Response.
func (c *Conn) roundTrip(ctx context.Context, action string, headers ...string) (*Response, error) {
	if err := validateAction(action, headers); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.ActionTimeout)
		defer cancel()
	}
	id := c.prefix + strconv.FormatUint(c.seq.Add(1), 10)
	p := &pending{action: action, ch: make(chan *Response, 1)}
	c.mu.Lock()
	if c.closed {
		err := c.closeReason
		c.mu.Unlock()
		return nil, err
	}
	c.pending[id] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	c.wmu.Lock()
	err := c.write(ctx, appendAction(nil, action, id, headers...))
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	var r *Response
	select {
	case r = <-p.ch:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %s (%w)", ErrTimeout, action, ctx.Err())
		}
		return nil, ctx.Err()
	case <-c.done:
		select { // a reply that raced with the close still counts
		case r = <-p.ch:
		default:
			return nil, c.Err()
		}
	}
	if isFailure(r.Response()) {
		return r, &ResponseError{Action: action, Response: r.Response(), Message: r.Get("Message")}
	}
	return r, nil
}

// write sends payload; called with wmu held. A failed or interrupted write
// leaves the stream in an unknown state, so it ends the connection.
func (c *Conn) write(ctx context.Context, payload []byte) error {
	if err := netctx.Write(ctx, c.nc, payload); err != nil {
		c.fail(fmt.Errorf("ami: write: %w", err))
		return err
	}
	return nil
}

// startKeepalive pings every interval once logged in; an unanswered Ping
// ends the connection so that its owner reconnects.
func (c *Conn) startKeepalive() {
	if c.cfg.Keepalive <= 0 {
		return
	}
	c.keepalive.Do(func() {
		go func() {
			t := time.NewTicker(c.cfg.Keepalive)
			defer t.Stop()
			for {
				select {
				case <-c.done:
					return
				case <-t.C:
				}
				ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Keepalive)
				_, err := c.roundTrip(ctx, "Ping")
				cancel()
				if errors.Is(err, ErrTimeout) {
					c.fail(fmt.Errorf("ami: keepalive: %w", err))
					return
				}
			}
		}()
	})
}

// Subscription is an ordered, unbounded stream of events from one
// connection. The reader appends without waiting; the owner waits on
// Notify and takes everything queued with Drain.
type Subscription struct {
	c     *Conn
	names []string
	mb    *mailbox.Mailbox[*Message]

	mu   sync.Mutex
	err  error
	done chan struct{}
}

func (s *Subscription) wants(m *Message) bool {
	if len(s.names) == 0 {
		return true
	}
	name := m.Name()
	for _, n := range s.names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func (s *Subscription) put(m *Message) {
	crossed, err := s.mb.Put(m)
	if crossed {
		s.c.log.Warn("ami: subscription above its high-water mark; its owner is not draining",
			"depth", s.mb.Len(), "high_water", s.mb.Limits().HighWater)
	}
	if err != nil {
		s.c.log.Error("ami: subscription overflow; closing it", "err", err)
		s.c.unsubscribe(s)
		s.end(fmt.Errorf("%w: %w", ErrQueueOverflow, err))
	}
}

// end closes the subscription with err (first reason wins).
func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	close(s.done)
}

// Notify is signaled (capacity 1) whenever events are queued; after a
// receive, Drain.
func (s *Subscription) Notify() <-chan struct{} { return s.mb.Notify() }

// Drain appends all queued events to buf in arrival order, removes them and
// returns the extended buf. Events queued before the subscription ended
// are still drained.
func (s *Subscription) Drain(buf []*Message) []*Message { return s.mb.Drain(buf) }

// Done is closed when the subscription ends: Close, overflow, or the end
// of its connection. Drain what is left after it.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is why the subscription ended (nil while it runs).
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the subscription.
func (s *Subscription) Close() {
	s.c.unsubscribe(s)
	s.end(fmt.Errorf("%w: subscription closed", ErrClosed))
}

// Stats returns the subscription's mailbox counters.
func (s *Subscription) Stats() Stats {
	st := s.mb.Stats()
	return Stats{
		EventsQueued:       st.Queued,
		QueueDepth:         st.Depth,
		MaxQueueDepth:      st.MaxDepth,
		HighWaterCrossings: st.HighWaterCrossings,
	}
}
