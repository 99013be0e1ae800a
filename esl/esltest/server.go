package esltest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Config configures a Server. The zero Config is a switch that accepts
// the password "ClueCon" and parks every originated call.
type Config struct {
	// Password is the event socket password (default "ClueCon", a stock
	// FreeSWITCH's).
	Password string
	// OutboundAddr is where an originated call is connected like the socket
	// app does; when empty, an `&socket(host:port ...)` app in the originate
	// is used; with neither the call just stays up (parked).
	OutboundAddr string
	// Script returns the script for the call originated to dest (the
	// extension of the dial string). nil: the zero Script.
	Script func(dest string) Script
}

// Server is a running fake FreeSWITCH event socket (the inbound side, port
// 8021 on a real switch), in the manner of httptest.Server: NewServer
// returns it listening, Addr says where, Close stops it.
type Server struct {
	// Addr is the host:port the server listens on (127.0.0.1, a free port).
	Addr string

	cfg      Config
	si       *switchInfo
	ln       net.Listener
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	bmu      sync.Mutex // serializes broadcasts
	mu       sync.Mutex
	conns    map[*inboundConn]struct{}
	channels map[string]*serverChannel
	sessions int
	records  []Record
}

// serverChannel is a channel the server originated.
type serverChannel struct {
	mu   sync.Mutex
	ch   *channel
	call *Call // the outbound leg, nil if not connected
	gone bool
}

// NewServer starts a fake event socket on 127.0.0.1:0. Like
// httptest.NewServer it panics if it cannot listen. Close it when done.
func NewServer(cfg Config) *Server {
	if cfg.Password == "" {
		cfg.Password = "ClueCon"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("esltest: listen: %v", err))
	}
	s := &Server{
		Addr: ln.Addr().String(), cfg: cfg, ln: ln, si: newSwitchInfo(),
		conns: map[*inboundConn]struct{}{}, channels: map[string]*serverChannel{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		<-s.ctx.Done()
		_ = ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.conn.Close()
		}
		s.mu.Unlock()
	}()
	go s.accept()
	return s
}

// Close stops the server, drops every connection and call, and waits for
// all of its goroutines. A second Close does nothing.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Commands returns every command the server received so far on any
// connection, in arrival order (auth included).
func (s *Server) Commands() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

func (s *Server) record(cmd *command) {
	rec := newRecord(cmd)
	s.mu.Lock()
	s.records = append(s.records, rec)
	s.mu.Unlock()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &inboundConn{srv: s, conn: conn, wake: make(chan struct{}, 1), sub: newSubscription()}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(2)
		go c.writer()
		go c.serve()
	}
}

// broadcast hands ev to every connection. Like FreeSWITCH's event
// dispatch, one event reaches every listener's queue before the next one
// does, so two listeners never see two events in different orders.
func (s *Server) broadcast(ev *eventMsg) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	s.mu.Lock()
	conns := make([]*inboundConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.deliver(ev)
	}
}

// api runs one api command; originate blocks until the call is answered or
// failed, like FreeSWITCH's. then, when non-nil, runs after the response was
// queued (uuid_kill's hangup events follow its +OK).
func (s *Server) api(line string) (body string, then func()) {
	s.mu.Lock()
	n := s.sessions
	s.mu.Unlock()
	return s.si.runAPI(line, n, s.switchAPI)
}

// switchAPI answers the api commands about the switch's channels.
func (s *Server) switchAPI(name, arg string) (string, func(), bool) {
	switch name {
	case "uuid_kill":
		uuid, cause, _ := strings.Cut(arg, " ")
		if cause = strings.TrimSpace(cause); cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.mu.Lock()
		_, ok := s.channels[uuid]
		s.mu.Unlock()
		if !ok {
			return "-ERR No such channel!\n", nil, true
		}
		return "+OK\n", func() { s.kill(uuid, cause) }, true
	case "uuid_transfer", "uuid_send_dtmf":
		// Passed to the outbound leg, which owns the channel; a channel
		// without one (parked, not connected) has nothing to move.
		uuid, rest, _ := strings.Cut(arg, " ")
		call := s.outboundLeg(uuid)
		if call == nil {
			return "-ERR No such channel!\n", nil, true
		}
		if name == "uuid_send_dtmf" {
			return "+OK Success\n", func() { call.SendDTMF(strings.TrimSpace(rest)) }, true
		}
		f := strings.Fields(rest)
		if len(f) > 0 && strings.HasPrefix(f[0], "-") {
			f = f[1:]
		}
		if len(f) == 0 {
			return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n", nil, true
		}
		context := ""
		if len(f) >= 3 {
			context = f[2]
		}
		return "+OK\n", func() { call.Transfer(f[0], context) }, true
	case "uuid_exists":
		s.mu.Lock()
		_, ok := s.channels[arg]
		s.mu.Unlock()
		return map[bool]string{true: "true", false: "false"}[ok], nil, true
	case "originate":
		return s.originate(arg), nil, true
	}
	return "", nil, false
}

var (
	socketAppRe = regexp.MustCompile(`^&?socket\(([^ )]+)`)
)

// originate handles `{var=val,...}dialstring app`.
func (s *Server) originate(arg string) string {
	vars := map[string]string{}
	rest := arg
	if strings.HasPrefix(rest, "{") {
		end := strings.Index(rest, "}")
		if end < 0 {
			return "-ERR INVALID_NUMBER_FORMAT\n"
		}
		for _, kv := range strings.Split(rest[1:end], ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		rest = rest[end+1:]
	}
	dial, app, _ := strings.Cut(strings.TrimSpace(rest), " ")
	app = strings.TrimSpace(app)
	if dial == "" {
		return "-ERR INVALID_NUMBER_FORMAT\n"
	}
	uuid := vars["origination_uuid"]
	if uuid == "" {
		uuid = newUUID()
	}
	parts := strings.Split(dial, "/")
	dest := parts[len(parts)-1]
	if len(parts) >= 3 && parts[0] == "loopback" {
		dest = parts[1]
	}
	dest, _, _ = strings.Cut(dest, "@")
	var script Script
	if s.cfg.Script != nil {
		script = s.cfg.Script(dest)
	}
	reject := script.RejectCause
	if parts[0] == "error" && len(parts) > 1 {
		reject = parts[1]
	}

	now := time.Now()
	ch := &channel{
		si: s.si, uuid: uuid, name: dial, direction: "outbound", callerNum: "0000000000",
		dest: dest, source: "mod_" + parts[0], context: "default",
		state: "CS_INIT", callState: "DOWN", stateNum: "2", answerState: "ringing", created: now,
	}
	ch.vars.add("direction", "outbound")
	ch.vars.add("is_outbound", "true")
	ch.vars.add("session_id", "1")
	ch.vars.add("channel_name", dial)
	ch.vars.add("uuid", uuid)
	ch.vars.add("call_uuid", uuid)
	for k, v := range vars {
		ch.vars.set(k, v)
	}
	sc := &serverChannel{ch: ch}
	s.mu.Lock()
	s.channels[uuid] = sc
	s.sessions++
	s.mu.Unlock()
	sc.mu.Lock()
	s.broadcast(ch.event("CHANNEL_CREATE", siteCreate))
	if reject != "" {
		s.hangupLocked(sc, reject)
		sc.mu.Unlock()
		return "-ERR " + reject + "\n"
	}
	ch.state, ch.stateNum = "CS_EXECUTE", "4"
	ch.markAnswered()
	ch.vars.set("endpoint_disposition", "ANSWER")
	s.broadcast(ch.event("CHANNEL_ANSWER", siteAnswer))
	sc.mu.Unlock()

	target := s.cfg.OutboundAddr
	if m := socketAppRe.FindStringSubmatch(app); target == "" && m != nil {
		target = m[1]
	}
	if target != "" {
		script.UUID = uuid
		if script.DestinationNumber == "" {
			script.DestinationNumber = dest
		}
		if script.Vars == nil {
			script.Vars = map[string]string{}
		}
		for k, v := range vars {
			if _, ok := script.Vars[k]; !ok && k != "origination_uuid" {
				script.Vars[k] = v
			}
		}
		call, err := startOutbound(s.ctx, target, script, s.si, func(cause string, vars map[string]string) {
			sc.mu.Lock()
			// Variables the socket app set (set notify_result=confirmed)
			// are on the channel's HANGUP_COMPLETE to every listener.
			for k, v := range vars {
				if _, ok := sc.ch.vars.get(k); !ok {
					sc.ch.vars.set(k, v)
				}
			}
			s.hangupLocked(sc, cause)
			sc.mu.Unlock()
		})
		if err != nil {
			slog.Debug("esltest: originate could not reach the socket listener", "addr", target, "err", err)
			sc.mu.Lock()
			s.hangupLocked(sc, "DESTINATION_OUT_OF_ORDER")
			sc.mu.Unlock()
		} else {
			sc.mu.Lock()
			sc.call = call
			sc.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				<-call.Done()
				// The IVR closed without hanging up: the dialplan has nothing
				// after the socket app, so the channel hangs up.
				sc.mu.Lock()
				s.hangupLocked(sc, "NORMAL_CLEARING")
				sc.mu.Unlock()
			}()
		}
	}
	return "+OK " + uuid + "\n"
}

// hangupLocked ends a server channel (sc.mu held) and tells subscribers.
func (s *Server) hangupLocked(sc *serverChannel, cause string) {
	if sc.gone {
		return
	}
	sc.gone = true
	ch := sc.ch
	ch.startHangup(cause)
	s.broadcast(ch.event("CHANNEL_HANGUP", siteHangup))
	ch.state, ch.callState, ch.stateNum = "CS_REPORTING", "HANGUP", "11"
	ch.hungup = time.Now()
	ch.setCDRVariables("", "")
	s.broadcast(ch.event("CHANNEL_HANGUP_COMPLETE", siteHangupDone))
	s.mu.Lock()
	delete(s.channels, ch.uuid)
	s.mu.Unlock()
}

// outboundLeg is the outbound socket call of channel uuid, nil if none.
func (s *Server) outboundLeg(uuid string) *Call {
	s.mu.Lock()
	sc, ok := s.channels[uuid]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.call
}

func (s *Server) kill(uuid, cause string) bool {
	s.mu.Lock()
	sc, ok := s.channels[uuid]
	s.mu.Unlock()
	if !ok {
		return false
	}
	sc.mu.Lock()
	call := sc.call
	if call == nil {
		s.hangupLocked(sc, cause)
	}
	sc.mu.Unlock()
	if call != nil {
		call.Hangup(cause)
	}
	return true
}
