package esl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsivr/fsivr/internal/backoff"
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
	// HandshakeTimeout bounds connect/myevents/linger/event (default 10 s).
	HandshakeTimeout time.Duration
	// Config holds the per-connection settings (logger, frame and mailbox
	// limits, stall timeout).
	Config

	accepted, acceptErrors, refused atomic.Uint64

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*OutboundConn]struct{}
	shutdown  bool
	handlers  sync.WaitGroup
	cancel    context.CancelFunc // cancels handler contexts
	baseCtx   context.Context
}

// acceptBackoff spaces retries after failed Accepts: 5 ms doubling to 1 s,
// net/http's schedule, jittered.
var acceptBackoff = backoff.Policy{Min: 5 * time.Millisecond, Max: time.Second}

// ServerStats are a Server's counters (for metrics).
type ServerStats struct {
	Accepted     uint64 // connections accepted
	AcceptErrors uint64 // failed Accepts, each retried after a backoff
	Refused      uint64 // connections closed at once: peer outside Allow, or handshake failed
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	return ServerStats{Accepted: s.accepted.Load(), AcceptErrors: s.acceptErrors.Load(), Refused: s.refused.Load()}
}

// NewServer returns a Server with the recommended defaults (Linger on).
func NewServer(handler func(ctx context.Context, c *OutboundConn)) *Server {
	return &Server{Handler: handler, Linger: true}
}

func (s *Server) init() {
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
		s.conns = map[*OutboundConn]struct{}{}
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
	}
}

// Serve accepts connections on ln until ctx is done or Shutdown is called
// (then it returns nil) or ln is closed by someone else. A failed Accept
// (EMFILE, ENFILE, ECONNABORTED...) is logged, counted in Stats and retried
// after a backoff of 5 ms doubling to 1 s. Serve closes ln.
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
	cfg := s.Config.withDefaults()
	retry := 0 // failed Accepts in a row
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down || ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("esl: accept: %w", err)
			}
			// Anything else (EMFILE/ENFILE under a connection flood,
			// ECONNABORTED, ENOBUFS) passes: wait and accept again, as
			// net/http's Server does. Returning would drop every call.
			s.acceptErrors.Add(1)
			wait := acceptBackoff.Delay(retry)
			retry++
			cfg.Logger.Warn("esl: accept failed; retrying", "err", err, "retry", retry, "delay", wait.String())
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		retry = 0
		s.accepted.Add(1)
		if !s.allowed(nc.RemoteAddr()) {
			s.refused.Add(1)
			cfg.Logger.Warn("esl: outbound connection from a peer outside Allow; closed", "peer", nc.RemoteAddr().String())
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

func (s *Server) serveConn(nc net.Conn, cfg Config) {
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
		s.refused.Add(1)
		cfg.Logger.Warn("esl: outbound handshake failed", "peer", nc.RemoteAddr().String(), "err", err)
		s.handlers.Done()
		return
	}
	s.mu.Lock()
	s.conns[oc] = struct{}{}
	s.mu.Unlock()
	// The handler gets a goroutine of its own. A call's handler sits parked
	// for minutes, and the runtime halves a parked goroutine's stack only
	// while less than a quarter of it is in use: this goroutine's stack grew
	// parsing the connect reply, and its frames below the handler's would
	// keep the handler's stack at twice the size it needs for the whole call
	// (BENCHMARKS.md, RSS per held call).
	go s.serveHandler(oc)
}

// serveHandler runs the handler of one connection to its end.
func (s *Server) serveHandler(oc *OutboundConn) {
	defer s.endHandler(oc)
	if s.Handler != nil {
		s.Handler(s.baseCtx, oc)
	}
}

// endHandler is deferred by serveHandler: it logs a handler's panic (one
// call's bug must not end every call), then releases the connection.
func (s *Server) endHandler(oc *OutboundConn) {
	if r := recover(); r != nil {
		oc.log.Error("esl: outbound handler panicked", "panic", r)
	}
	oc.finish()
	s.mu.Lock()
	delete(s.conns, oc)
	s.mu.Unlock()
	s.handlers.Done()
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
			_ = oc.Close()
		}
		s.mu.Unlock()
		<-idle
		return ctx.Err()
	}
}
