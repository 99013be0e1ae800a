package amitest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"
)

// bootState is what a restart changes: when the PBX (re)started and whether
// FullyBooted is still to come.
type bootState struct {
	started time.Time
	booting bool          // after Restart, until FullyBooted
	booted  chan struct{} // closed at FullyBooted
	dying   bool          // connects are accepted and closed without a byte
}

func newServer(cfg Config) (*Server, error) {
	if cfg.Username == "" {
		cfg.Username = "dialer"
	}
	if cfg.Secret == "" {
		cfg.Secret = "secret"
	}
	if cfg.Banner == "" {
		cfg.Banner = "Asterisk Call Manager/11.0.0"
	}
	if cfg.AuthFailDelay == 0 {
		cfg.AuthFailDelay = time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 100 * time.Millisecond
	}
	if cfg.SlowClientLimit == 0 {
		cfg.SlowClientLimit = 4 << 20
	}
	if cfg.Outcome == nil {
		cfg.Outcome = DefaultOutcome
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		Addr:     ln.Addr().String(),
		cfg:      cfg,
		log:      log,
		ctx:      ctx,
		stop:     stop,
		ln:       ln,
		sessions: map[*session]struct{}{},
		arrived:  make(chan struct{}),
		boot:     bootState{started: time.Now()},
	}
	s.state = newPBXState(s, cfg)
	s.wg.Add(1)
	go s.accept(ln)
	return s, nil
}

func (s *Server) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		if s.boot.dying {
			// 65_restart_reconnect_attempt_01: accepted by the dying
			// process, closed with no byte.
			s.mu.Unlock()
			_ = conn.Close()
			continue
		}
		s.nsess++
		c := &session{srv: s, id: s.nsess, conn: conn, wake: make(chan struct{}, 1)}
		s.sessions[c] = struct{}{}
		s.mu.Unlock()
		s.log.Debug("amitest: session connected", "session", c.id, "remote", conn.RemoteAddr().String())
		s.wg.Add(2)
		go c.writer()
		go c.serve()
	}
}

func (s *Server) dropSession(c *session) {
	s.mu.Lock()
	delete(s.sessions, c)
	s.mu.Unlock()
	s.log.Debug("amitest: session closed", "session", c.id)
}

func (s *Server) record(a Action) {
	s.mu.Lock()
	s.actions = append(s.actions, a)
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()
}

// broadcast sends e to every session that wants it, in call order.
func (s *Server) broadcast(e *event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.sessions {
		c.deliver(e)
	}
}

// loggedIn sends what follows a successful Login: FullyBooted (unless the
// PBX is still booting after a Restart: then it comes later) and
// SuccessfulAuth, to this session; SuccessfulAuth also to every other one
// (68_*: session 0 saw all 20 logins).
func (s *Server) loggedIn(c *session) {
	s.mu.Lock()
	booting := s.boot.booting
	booted := s.boot.booted
	uptime := int(time.Since(s.boot.started).Seconds())
	s.mu.Unlock()
	if !booting {
		c.deliver(newEvent("FullyBooted", "system", []Header{
			{"Uptime", itoa(uptime)}, {"LastReload", itoa(uptime)}, {"Status", "Fully Booted"}}))
	}
	now := time.Now()
	tv := now.UTC().Format("2006-01-02T15:04:05.000+0000")
	s.broadcast(newEvent("SuccessfulAuth", "security", []Header{
		{"EventTV", tv}, {"Severity", "Informational"}, {"Service", "AMI"}, {"EventVersion", "1"},
		{"AccountID", s.cfg.Username}, {"SessionID", "0x" + itoa(0x7f0000000000+c.id)},
		{"LocalAddress", "IPV4/TCP/" + s.Addr}, {"RemoteAddress", "IPV4/TCP/" + c.conn.RemoteAddr().String()},
		{"UsingPassword", "0"}, {"SessionTV", tv}}))
	if booting {
		s.mu.Lock()
		first := !s.boot.dying && s.boot.booted == booted && !s.bootScheduled
		s.bootScheduled = true
		s.mu.Unlock()
		if first {
			s.wg.Add(1)
			go s.finishBoot(booted)
		}
	}
}

// finishBoot sends the boot-time FullyBooted (header order Status, Uptime,
// LastReload, 65_restart_fastpoll) BootDelay after the first Login.
func (s *Server) finishBoot(booted chan struct{}) {
	defer s.wg.Done()
	// Half way, the hints are restored: one ExtensionStatus each, with an
	// empty Hint (65_restart_fastpoll_attempt_088).
	if !sleepCtx(s.ctx, s.cfg.BootDelay/2) {
		return
	}
	s.state.mu.Lock()
	var evs []*event
	for _, h := range s.state.hints {
		st := s.state.hintStatus(h)
		evs = append(evs, newEvent("ExtensionStatus", "call", extensionStatusHeaders(Hint{Exten: h.Exten, Context: h.Context}, st)))
	}
	s.state.mu.Unlock()
	for _, e := range evs {
		s.broadcast(e)
	}
	if !sleepCtx(s.ctx, s.cfg.BootDelay-s.cfg.BootDelay/2) {
		return
	}
	s.mu.Lock()
	if s.boot.booted != booted {
		s.mu.Unlock()
		return
	}
	s.boot.booting = false
	s.bootScheduled = false
	close(booted)
	s.mu.Unlock()
	s.broadcast(newEvent("FullyBooted", "system", []Header{
		{"Status", "Fully Booted"}, {"Uptime", "1"}, {"LastReload", "1"}}))
}

func (s *Server) setRefusingLocked(refuse bool) error {
	if refuse == s.refusing {
		return nil
	}
	if refuse {
		s.refusing = true
		if s.ln != nil {
			_ = s.ln.Close()
			s.ln = nil
		}
		return nil
	}
	if s.ctx.Err() != nil {
		return errors.New("amitest: server closed")
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.refusing = false
	s.ln = ln
	s.wg.Add(1)
	go s.accept(ln)
	return nil
}

func (s *Server) restart(down time.Duration) <-chan struct{} {
	up := make(chan struct{})
	s.broadcast(newEvent("Shutdown", "system", []Header{{"Shutdown", "Cleanly"}, {"Restart", "True"}}))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(up)
		if !sleepCtx(s.ctx, 20*time.Millisecond) {
			return
		}
		s.mu.Lock()
		// set before the sessions close, so a client reconnecting on EOF
		// meets the dying process (65_restart_reconnect_attempt_01)
		s.boot.dying = true
		for c := range s.sessions {
			c.closeAfterDrain()
		}
		s.state.reset()
		s.mu.Unlock()
		if !sleepCtx(s.ctx, 15*time.Millisecond) {
			return
		}
		s.mu.Lock()
		s.boot.dying = false
		_ = s.setRefusingLocked(true)
		s.mu.Unlock()
		if !sleepCtx(s.ctx, down) {
			return
		}
		s.mu.Lock()
		s.boot = bootState{started: time.Now(), booting: true, booted: make(chan struct{})}
		s.bootScheduled = false
		err := s.setRefusingLocked(false)
		s.mu.Unlock()
		if err != nil {
			s.log.Error("amitest: restart could not listen again", "addr", s.Addr, "err", err)
		}
	}()
	return up
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
