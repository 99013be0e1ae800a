package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsivr/fsivr/internal/mailbox"
	"github.com/fsivr/fsivr/internal/netctx"
)

// Stats are counters of one connection's event mailbox.
type Stats struct {
	EventsQueued       uint64 // events put in the mailbox
	EventsClaimed      uint64 // events handed to an Execute or BgAPI waiter instead
	EventsDropped      uint64 // events dropped: jobs nobody waits for (Client), events about another channel (OutboundConn)
	QueueDepth         int    // events waiting to be drained now
	MaxQueueDepth      int    // highest depth seen
	HighWaterCrossings uint64 // times the depth rose above the high-water mark
}

// reply is what the reader hands to a command waiter.
type reply struct {
	msg *Message
}

// Conn is the connection layer that OutboundConn and Client embed: one
// reader goroutine that only frames and dispatches, replies matched to
// commands in order, serialized writes and the ordered event mailbox
// (Notify, Drain). Its methods are safe for concurrent use.
type Conn struct {
	nc  net.Conn
	rd  *Reader
	cfg Config
	log *slog.Logger

	// wmu serializes writes; a command's reply slot is queued under it, so
	// the order of slots is the order of commands on the wire.
	wmu sync.Mutex

	mu          sync.Mutex
	pending     []chan reply // reply slots, oldest first
	closed      bool
	closeReason error

	mailbox *mailbox.Mailbox[*Message]
	claimed atomic.Uint64 // events handed to a waiter instead of the mailbox
	dropped atomic.Uint64 // events nobody asked for
	done    chan struct{}

	// claim, set before the reader starts, may take an event away from the
	// mailbox (Execute and BgAPI waiters, counted with handOff; events it
	// drops, counted with dropEvent). It runs on the reader goroutine and
	// must not block.
	claim func(*Message) bool
	// onNotice, set before the reader starts, sees disconnect notices.
	onNotice func(*Message)

	goodbye  atomic.Bool // a disconnect notice said the peer is closing
	readerWG sync.WaitGroup
}

func newConn(nc net.Conn, rd *Reader, cfg Config) *Conn {
	return &Conn{
		nc:      nc,
		rd:      rd,
		cfg:     cfg,
		log:     cfg.Logger.With("peer", nc.RemoteAddr().String()),
		mailbox: mailbox.New[*Message](mailbox.Limits{HighWater: cfg.HighWater, Max: cfg.MaxQueue}),
		done:    make(chan struct{}),
	}
}

func (c *Conn) start() {
	if g, ok := c.rd.src.(*netctx.StallReader); ok {
		g.Timeout = c.cfg.StallTimeout // after the handshake, which has its own bound
	}
	c.readerWG.Add(1)
	go c.readLoop()
}

// newConnReader returns the Reader of a connection, reading through a
// netctx.StallReader that Conn.start arms: a peer that stops in the middle
// of a frame would otherwise hold the connection (and its call) forever,
// while an idle connection (a long prompt) is never cut.
func newConnReader(nc net.Conn, cfg Config) *Reader {
	g := &netctx.StallReader{Conn: nc, Stalled: ErrStalled}
	r := NewReader(g, cfg.MaxFrame)
	g.Buffered = r.Buffered
	if raw := newRawIdleReader(nc); raw != nil {
		r.idle = &idleConn{stall: g, raw: raw}
	}
	return r
}

// readLoop frames messages and dispatches them. It never waits on the
// owner: replies go to buffered slots, events to the unbounded mailbox.
func (c *Conn) readLoop() {
	defer c.readerWG.Done()
	defer c.recoverReader()
	for {
		m, err := c.rd.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF) && c.goodbye.Load():
				c.fail(fmt.Errorf("%w: peer disconnected", ErrClosed))
			case errors.Is(err, io.EOF):
				c.fail(fmt.Errorf("%w: unexpected EOF from peer", ErrClosed))
			default:
				c.fail(fmt.Errorf("esl: read: %w", err))
			}
			return
		}
		if err := c.dispatch(m); err != nil {
			c.fail(err)
			return
		}
	}
}

// recoverReader, deferred by readLoop, turns a panic in the framing or the
// dispatch into the end of this one connection: a bug met on one peer's
// bytes must not end every other connection of the process.
func (c *Conn) recoverReader() {
	if r := recover(); r != nil {
		c.log.Error("esl: reader panicked; closing the connection", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		c.fail(fmt.Errorf("%w: reader panic: %v", ErrInternal, r))
	}
}

func (c *Conn) dispatch(m *Message) error {
	switch m.Kind() {
	case KindCommandReply, KindAPIResponse:
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.mu.Unlock()
			return fmt.Errorf("%w: %s with no command waiting", ErrUnexpectedMessage, m.Kind())
		}
		slot := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		c.mu.Unlock()
		slot <- reply{msg: m} // buffered: never blocks, even if the caller gave up
	case KindEvent:
		if c.claim != nil && c.claim(m) {
			return nil // counted by the claimer, before the waiter can look
		}
		return c.enqueue(m)
	case KindDisconnectNotice:
		if m.OuterHeader("Content-Disposition") != "linger" {
			c.goodbye.Store(true)
		}
		if c.onNotice != nil {
			c.onNotice(m)
		}
	default:
		return fmt.Errorf("%w: Content-Type %q: %.80q", ErrUnexpectedMessage, m.ContentType(), m.OuterBody())
	}
	return nil
}

// enqueue puts m in the mailbox; it never blocks.
func (c *Conn) enqueue(m *Message) error {
	crossed, err := c.mailbox.Put(m)
	if crossed {
		c.log.Warn("esl: event queue above high-water mark; owner is not draining", "depth", c.mailbox.Len(), "high_water", c.cfg.HighWater)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrQueueOverflow, err)
	}
	return nil
}

// handOff gives m to a waiter's buffered slot, counting it first so that
// a waiter reading Stats after it got m sees it counted.
func (c *Conn) handOff(w chan<- *Message, m *Message) {
	c.claimed.Add(1)
	w <- m
}

// dropEvent counts an event nobody asked for.
func (c *Conn) dropEvent() { c.dropped.Add(1) }

// Notify is signaled (capacity 1) whenever events are queued; after a
// receive, Drain until it returns nothing new.
func (c *Conn) Notify() <-chan struct{} { return c.mailbox.Notify() }

// Drain appends all queued events to buf in arrival order, removes them
// from the mailbox and returns the extended buf.
func (c *Conn) Drain(buf []*Message) []*Message { return c.mailbox.Drain(buf) }

// DrainSince is Drain that also returns when the reader queued the first of
// the drained events, as soon as it had read and parsed it (zero when there
// were none): the start of the owner's reaction time to them.
func (c *Conn) DrainSince(buf []*Message) ([]*Message, time.Time) {
	return c.mailbox.DrainSince(buf)
}

// Stats returns the mailbox counters.
func (c *Conn) Stats() Stats {
	ms := c.mailbox.Stats()
	return Stats{
		EventsQueued:       ms.Queued,
		EventsClaimed:      c.claimed.Load(),
		EventsDropped:      c.dropped.Load(),
		QueueDepth:         ms.Depth,
		MaxQueueDepth:      ms.MaxDepth,
		HighWaterCrossings: ms.HighWaterCrossings,
	}
}

// Done is closed when the connection is gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is up). Clean ends (Close,
// exit, or FreeSWITCH closing after a disconnect notice) match ErrClosed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeReason
}

// fail ends the connection with err (first reason wins) and logs it once.
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
	if errors.Is(err, ErrClosed) {
		c.log.Debug("esl: connection closed", "reason", err)
	} else {
		c.log.Warn("esl: connection failed", "err", err)
	}
}

// Close closes the connection and waits for the reader to stop. On an
// OutboundConn whose channel is still up, the dialplan continues after the
// socket action.
func (c *Conn) Close() error {
	c.fail(fmt.Errorf("%w: closed by us", ErrClosed))
	c.readerWG.Wait()
	return nil
}

// roundTrip writes one command and waits for its reply. payload must be a
// whole, validated command. If ctx ends first the slot stays queued and its
// reply is discarded when it comes, so later replies stay matched.
func (c *Conn) roundTrip(ctx context.Context, payload []byte) (*Message, error) {
	var one [1]*Message
	if err := c.roundTrips(ctx, payload, one[:]); err != nil {
		return nil, err
	}
	return one[0], nil
}

// roundTrips writes len(replies) whole, validated commands, concatenated in
// payload, with one write, and fills replies with their replies in order.
// FreeSWITCH takes commands from its socket one at a time and answers each
// in turn, so several sent at once cost one write and one wait instead of
// one round trip each (call setup sends three this way).
func (c *Conn) roundTrips(ctx context.Context, payload []byte, replies []*Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var fixed [3]chan reply // the setup's three, or one command: no slice to allocate
	slots := fixed[:0]
	if len(replies) > len(fixed) {
		slots = make([]chan reply, 0, len(replies))
	}
	slots = slots[:len(replies)]
	c.wmu.Lock()
	c.mu.Lock()
	if c.closed {
		err := c.closeReason
		c.mu.Unlock()
		c.wmu.Unlock()
		return err
	}
	for i := range slots {
		slots[i] = make(chan reply, 1)
		c.pending = append(c.pending, slots[i])
	}
	c.mu.Unlock()
	err := c.write(ctx, payload)
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	for i, slot := range slots {
		select {
		case r := <-slot:
			replies[i] = r.msg
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			select { // a reply that raced with the close still counts
			case r := <-slot:
				replies[i] = r.msg
				continue
			default:
			}
			return c.Err()
		}
	}
	return nil
}

// write sends payload; called with wmu held. A failed or interrupted write
// leaves the stream in an unknown state, so it ends the connection.
func (c *Conn) write(ctx context.Context, payload []byte) error {
	if err := netctx.Write(ctx, c.nc, payload); err != nil {
		c.fail(fmt.Errorf("esl: write: %w", err))
		return err
	}
	return nil
}

// Command sends a raw command (e.g. "getvar menu_number", or "sendmsg"
// with headers as name, value pairs) and returns the reply; a "-ERR"
// Reply-Text gives a *ReplyError. Values with CR/LF give ErrInvalidValue
// and nothing is written.
func (c *Conn) Command(ctx context.Context, cmd string, headers ...string) (*Message, error) {
	if err := validateAll(cmd); err != nil {
		return nil, err
	}
	if err := validateAll(headers...); err != nil {
		return nil, err
	}
	m, err := c.roundTrip(ctx, appendCommand(nil, cmd, headers...))
	if err != nil {
		return nil, err
	}
	if m.Kind() == KindCommandReply && hasPrefix(m.ReplyText(), "-ERR") {
		return m, &ReplyError{Command: cmd, Reply: m.ReplyText()}
	}
	return m, nil
}

// API runs a blocking api command and returns its output; output starting
// with "-ERR" gives a *ReplyError along with the output.
func (c *Conn) API(ctx context.Context, cmd string) (string, error) {
	m, err := c.Command(ctx, "api "+cmd)
	if err != nil {
		return "", err
	}
	if m.Kind() != KindAPIResponse {
		if hasPrefix(m.ReplyText(), "-ERR") {
			return "", &ReplyError{Command: "api " + cmd, Reply: m.ReplyText()}
		}
		return "", fmt.Errorf("%w: %s in answer to api", ErrUnexpectedMessage, m.Kind())
	}
	body := string(m.OuterBody())
	if hasPrefix(body, "-ERR") {
		return body, &ReplyError{Command: "api " + cmd, Reply: body}
	}
	return body, nil
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
