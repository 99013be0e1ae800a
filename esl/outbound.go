package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// DefaultEvents returns the subscription an outbound Server uses after
// myevents when Server.Events is empty.
func DefaultEvents() []string {
	return []string{
		"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF",
		"CUSTOM", "fifo::info",
	}
}

// Server accepts FreeSWITCH outbound event socket connections (the dialplan's
// `socket` application), one per call, and runs Handler for each.
//
// Per connection it sends `connect` (the reply is the channel data),
// `myevents`, `linger` (if Linger), and `event plain <Events>`, then calls
// Handler. When Handler returns: if the channel already hung up it sends
// `exit` and closes; otherwise it just closes, and the dialplan continues
// after the socket action.
type Server struct {
	// Handler runs the call. ctx is canceled when Shutdown gives up waiting.
	Handler func(ctx context.Context, c *OutboundConn)
	// Allow lists the peer networks accepted; empty allows all. Other peers
	// are closed with a log line.
	Allow []netip.Prefix
	// Events are subscribed with "event plain" after myevents; empty means
	// DefaultEvents().
	Events []string
	// Linger asks FreeSWITCH to keep the socket open after hangup so the
	// final events arrive (NewServer sets it).
	Linger bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MaxFrame is the largest accepted message (default 4 MiB).
	MaxFrame int
	// HighWater and MaxQueue are the mailbox limits (defaults 1000, 100000).
	HighWater, MaxQueue int
	// HandshakeTimeout bounds connect/myevents/linger/event (default 10 s).
	HandshakeTimeout time.Duration

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*OutboundConn]struct{}
	shutdown  bool
	handlers  sync.WaitGroup
	cancel    context.CancelFunc // cancels handler contexts
	baseCtx   context.Context
}

// NewServer returns a Server with the recommended defaults (Linger on).
func NewServer(handler func(ctx context.Context, c *OutboundConn)) *Server {
	return &Server{Handler: handler, Linger: true}
}

func (s *Server) config() config {
	return config{logger: s.Logger, maxFrame: s.MaxFrame, highWater: s.HighWater, maxQueue: s.MaxQueue}.withDefaults()
}

func (s *Server) init() {
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*OutboundConn]struct{}{}
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
	}
}

// Serve accepts connections on ln until ctx is done or Shutdown is called
// (then it returns nil) or Accept fails. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.init()
	if s.shutdown {
		s.mu.Unlock()
		_ = ln.Close()
		return fmt.Errorf("%w: server shut down", ErrClosed)
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()
	cfg := s.config()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("esl: accept: %w", err)
		}
		if !s.allowed(nc.RemoteAddr()) {
			cfg.logger.Warn("esl: outbound connection from a peer outside Allow; closed", "peer", nc.RemoteAddr().String())
			_ = nc.Close()
			continue
		}
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			_ = nc.Close()
			return nil
		}
		s.handlers.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc, cfg)
	}
}

func (s *Server) allowed(a net.Addr) bool {
	if len(s.Allow) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range s.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) serveConn(nc net.Conn, cfg config) {
	defer s.handlers.Done()
	timeout := s.HandshakeTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	hctx, cancel := context.WithTimeout(s.baseCtx, timeout)
	events := s.Events
	if len(events) == 0 {
		events = DefaultEvents()
	}
	oc, err := newOutboundConn(hctx, nc, cfg, s.Linger, events)
	cancel()
	if err != nil {
		cfg.logger.Warn("esl: outbound handshake failed", "peer", nc.RemoteAddr().String(), "err", err)
		return
	}
	s.mu.Lock()
	s.conns[oc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, oc)
		s.mu.Unlock()
	}()
	func() {
		defer func() {
			if r := recover(); r != nil {
				oc.log.Error("esl: outbound handler panicked", "panic", r)
			}
		}()
		if s.Handler != nil {
			s.Handler(s.baseCtx, oc)
		}
	}()
	oc.finish()
}

// Shutdown stops accepting, then waits for running handlers to return until
// ctx is done; then it cancels their contexts, closes their connections and
// returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	s.shutdown = true
	for ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for oc := range s.conns {
			_ = oc.conn.Close()
		}
		s.mu.Unlock()
		<-idle
		return ctx.Err()
	}
}

// OutboundConn is one call's outbound socket. Its methods are safe for
// concurrent use, but the intended shape is one goroutine per call that
// runs the flow: it calls Execute/Send and selects on Notify, HungUp and its
// own timers.
type OutboundConn struct {
	*conn
	uuid        string
	channelData *Message
	linger      bool

	hmu         sync.Mutex
	hungUp      bool
	hangupCause string
	hungUpCh    chan struct{}
	waiters     map[string]chan *Message // Application-UUID -> Execute waiter
}

// newOutboundConn performs the outbound handshake and starts the reader.
func newOutboundConn(ctx context.Context, nc net.Conn, cfg config, linger bool, events []string) (*OutboundConn, error) {
	for _, e := range events {
		if err := ValidateValue(e); err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	rd := NewReader(nc, cfg.maxFrame)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	cd, err := func() (*Message, error) {
		if _, err := nc.Write([]byte("connect\n\n")); err != nil {
			return nil, err
		}
		m, err := rd.ReadMessage()
		if err != nil {
			return nil, err
		}
		if m.Kind() != KindCommandReply {
			return nil, fmt.Errorf("%w: %s in answer to connect", ErrUnexpectedMessage, m.Kind())
		}
		if rt := DecodeValue(m.ReplyText()); !hasPrefix(rt, "+OK") {
			return nil, &ReplyError{Command: "connect", Reply: rt}
		}
		return m, nil
	}()
	if !stop() || err != nil {
		_ = nc.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("esl: connect: %w", err)
	}
	cd.format = FormatChannelData
	oc := &OutboundConn{
		conn:        newConn(nc, rd, cfg),
		uuid:        cd.Get("Unique-ID"),
		channelData: cd,
		linger:      linger,
		hungUpCh:    make(chan struct{}),
		waiters:     map[string]chan *Message{},
	}
	oc.log = oc.log.With("uuid", oc.uuid)
	oc.claim = oc.claimEvent
	oc.onNotice = func(*Message) { oc.markHangup("") }
	oc.start()
	steps := []string{"myevents"}
	if linger {
		steps = append(steps, "linger")
	}
	steps = append(steps, "event plain "+strings.Join(events, " "))
	for _, cmd := range steps {
		if _, err := oc.command(ctx, cmd); err != nil {
			_ = oc.Close()
			return nil, fmt.Errorf("esl: outbound setup %q: %w", cmd, err)
		}
	}
	return oc, nil
}

// claimEvent runs on the reader goroutine: it hands a completion to its
// Execute waiter and notes hangups. Everything else goes to the mailbox.
func (oc *OutboundConn) claimEvent(m *Message) bool {
	switch m.Name() {
	case "CHANNEL_EXECUTE_COMPLETE":
		id := m.Get("Application-UUID")
		oc.hmu.Lock()
		// After the hangup, waiters get ErrHangup; a completion arriving
		// later (PLAYBACK ERROR of an interrupted app) goes to the mailbox.
		w, ok := oc.waiters[id]
		ok = ok && !oc.hungUp
		if ok {
			delete(oc.waiters, id)
		}
		oc.hmu.Unlock()
		if ok {
			w <- m // buffered, one completion per waiter
			return true
		}
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE":
		if id := m.Get("Unique-ID"); id == "" || id == oc.uuid {
			oc.markHangup(m.Get("Hangup-Cause"))
		}
	}
	return false
}

func (oc *OutboundConn) markHangup(cause string) {
	oc.hmu.Lock()
	defer oc.hmu.Unlock()
	if oc.hangupCause == "" {
		oc.hangupCause = cause
	}
	if !oc.hungUp {
		oc.hungUp = true
		close(oc.hungUpCh)
	}
}

// UUID is the controlled channel's Unique-ID.
func (oc *OutboundConn) UUID() string { return oc.uuid }

// ChannelData is the connect reply: the channel's headers and variables
// (e.g. Get("variable_ivr_flow"), Get("Caller-Caller-ID-Number")).
func (oc *OutboundConn) ChannelData() *Event { return oc.channelData }

// HungUp is closed when the channel hangs up (CHANNEL_HANGUP,
// CHANNEL_HANGUP_COMPLETE or a disconnect notice, whichever comes first).
func (oc *OutboundConn) HungUp() <-chan struct{} { return oc.hungUpCh }

// HangupCause is the Hangup-Cause of the hangup event ("" before hangup or
// if it is unknown).
func (oc *OutboundConn) HangupCause() string {
	oc.hmu.Lock()
	defer oc.hmu.Unlock()
	return oc.hangupCause
}

func (oc *OutboundConn) isHungUp() bool {
	oc.hmu.Lock()
	defer oc.hmu.Unlock()
	return oc.hungUp
}

// Notify is signaled (capacity 1) when events are queued in the mailbox.
func (oc *OutboundConn) Notify() <-chan struct{} { return oc.conn.Notify() }

// Drain appends all queued events to buf in arrival order and removes them
// from the mailbox. The mailbox holds every event not claimed by an Execute
// waiter: completions of Send-started apps, DTMF, CUSTOM, CHANNEL_HANGUP,
// CHANNEL_HANGUP_COMPLETE, and completions that arrive after their Execute
// returned (e.g. PLAYBACK ERROR after ErrHangup).
func (oc *OutboundConn) Drain(buf []*Event) []*Event { return oc.conn.Drain(buf) }

// Send starts app with arg on the channel (sendmsg execute with event-lock
// and a fresh Event-UUID) and returns that UUID once FreeSWITCH accepted it
// (+OK); the app's CHANNEL_EXECUTE_COMPLETE carries it as Application-UUID
// and arrives in the mailbox. It returns ErrHangup without writing anything
// if the channel has hung up.
func (oc *OutboundConn) Send(ctx context.Context, app, arg string) (string, error) {
	if err := validateAll(app, arg); err != nil {
		return "", err
	}
	id := NewUUID()
	return id, oc.send(ctx, app, arg, id)
}

func (oc *OutboundConn) send(ctx context.Context, app, arg, id string) error {
	if app == "" {
		return fmt.Errorf("%w: empty application name", ErrInvalidValue)
	}
	if oc.isHungUp() {
		return ErrHangup
	}
	m, err := oc.roundTrip(ctx, appendSendmsg(nil, app, arg, id, true))
	if err != nil {
		return err
	}
	if rt := m.ReplyText(); !hasPrefix(rt, "+OK") {
		return &ReplyError{Command: "sendmsg execute " + app, Reply: rt}
	}
	return nil
}

// Execute runs app and waits for its CHANNEL_EXECUTE_COMPLETE (matched by
// Application-UUID, never by name), which it returns; that completion does
// not go to the mailbox. It returns ErrHangup as soon as the channel hangs
// up (FreeSWITCH reports a hangup before the interrupted app's completion,
// and never completes an unknown app), or ctx.Err(). The app keeps running
// in FreeSWITCH if ctx ends first.
func (oc *OutboundConn) Execute(ctx context.Context, app, arg string) (*Event, error) {
	if err := validateAll(app, arg); err != nil {
		return nil, err
	}
	id := NewUUID()
	w := make(chan *Message, 1)
	oc.hmu.Lock()
	oc.waiters[id] = w // before writing: the completion may beat the reply
	oc.hmu.Unlock()
	defer func() {
		oc.hmu.Lock()
		delete(oc.waiters, id)
		oc.hmu.Unlock()
	}()
	if err := oc.send(ctx, app, arg, id); err != nil {
		return nil, err
	}
	select {
	case m := <-w:
		return m, nil
	case <-oc.hungUpCh:
		select { // a completion that came before the hangup wins
		case m := <-w:
			return m, nil
		default:
			return nil, ErrHangup
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-oc.done:
		select {
		case m := <-w:
			return m, nil
		default:
			return nil, oc.Err()
		}
	}
}

// API runs an api command over the outbound socket and returns its output;
// output starting with -ERR gives a *ReplyError (with the output).
func (oc *OutboundConn) API(ctx context.Context, cmd string) (string, error) {
	return oc.api(ctx, cmd)
}

// Command sends a raw command (e.g. "getvar menu_number", "sendmsg" with
// headers as name, value pairs) and returns the reply; -ERR gives a
// *ReplyError. Values with CR/LF give ErrInvalidValue.
func (oc *OutboundConn) Command(ctx context.Context, cmd string, headers ...string) (*Message, error) {
	return oc.command(ctx, cmd, headers...)
}

// GetVar returns a channel variable (the getvar command; "" if unset).
func (oc *OutboundConn) GetVar(ctx context.Context, name string) (string, error) {
	m, err := oc.command(ctx, "getvar "+name)
	if err != nil {
		return "", err
	}
	v := m.ReplyText()
	if v == "_undef_" {
		v = ""
	}
	return v, nil
}

// Hangup asks FreeSWITCH to hang the channel up with cause (default
// NORMAL_CLEARING).
func (oc *OutboundConn) Hangup(ctx context.Context, cause string) error {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	if oc.isHungUp() {
		return ErrHangup
	}
	_, err := oc.command(ctx, "sendmsg", "call-command", "hangup", "hangup-cause", cause)
	return err
}

// Close closes the socket. If the channel is still up the dialplan
// continues after the socket action.
func (oc *OutboundConn) Close() error { return oc.conn.Close() }

// finish ends the connection after the handler: a lingering, hung-up
// channel gets "exit" (FreeSWITCH answers +OK bye and closes).
func (oc *OutboundConn) finish() {
	if oc.isHungUp() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := oc.command(ctx, "exit"); err != nil && !errors.Is(err, ErrClosed) {
			oc.log.Debug("esl: exit after hangup", "err", err)
		}
		cancel()
	}
	_ = oc.Close()
}

// Done is closed when the connection is gone.
func (oc *OutboundConn) Done() <-chan struct{} { return oc.conn.Done() }

// Err is why the connection ended (nil while it is up); clean ends match
// ErrClosed. HungUp may stay open if the connection dies without a hangup
// event, so a call loop selects on Done too.
func (oc *OutboundConn) Err() error { return oc.conn.Err() }

// Stats returns the mailbox counters.
func (oc *OutboundConn) Stats() Stats { return oc.conn.Stats() }
