package esl

import (
	"context"
	"fmt"
	"net"
	"net/netip"
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
	// HandshakeTimeout bounds connect/myevents/linger/event (default 10 s).
	HandshakeTimeout time.Duration
	// Config holds the per-connection settings (logger, frame and mailbox
	// limits, stall timeout).
	Config

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
	cfg := s.Config.withDefaults()
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
		cfg.Logger.Warn("esl: outbound handshake failed", "peer", nc.RemoteAddr().String(), "err", err)
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
			_ = oc.Close()
		}
		s.mu.Unlock()
		<-idle
		return ctx.Err()
	}
}
