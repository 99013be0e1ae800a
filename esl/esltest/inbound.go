package esltest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Server is a fake FreeSWITCH event socket (the inbound side, port 8021).
// Set the exported fields before Start.
type Server struct {
	Password string
	// OutboundAddr is where an originated call is connected like the socket
	// app does; when empty, an `&socket(host:port ...)` app in the originate
	// is used; with neither the call just stays up (parked).
	OutboundAddr string
	// Script returns the script for the call originated to dest (the
	// extension of the dial string). nil: the zero Script.
	Script func(dest string) Script

	si       *switchInfo
	ln       net.Listener
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[*inboundConn]struct{}
	channels map[string]*serverChannel
	sessions int
}

// serverChannel is a channel the server originated.
type serverChannel struct {
	mu   sync.Mutex
	ch   *channel
	call *Call // the outbound leg, nil if not connected
	gone bool
}

// NewServer returns a server that accepts password.
func NewServer(password string) *Server {
	return &Server{Password: password}
}

// ErrServerStarted is returned by a second Start.
var ErrServerStarted = errors.New("esltest: server already started")

// Start listens on 127.0.0.1:0 and serves until ctx is done or Close.
func (s *Server) Start(ctx context.Context) (addr string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return "", ErrServerStarted
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("esltest: listen: %w", err)
	}
	s.ln = ln
	s.si = newSwitchInfo()
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.conns = map[*inboundConn]struct{}{}
	s.channels = map[string]*serverChannel{}
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
	return ln.Addr().String(), nil
}

// Close stops the server, drops every connection and call, and waits for
// all of its goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &inboundConn{srv: s, conn: conn, wake: make(chan struct{}, 1), events: map[string]bool{}, customs: map[string]bool{}}
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

// inboundConn is one client connection. Replies and events go through an
// unbounded queue drained by writer, so events from calls never block on a
// slow client and keep their order relative to replies.
type inboundConn struct {
	srv  *Server
	conn net.Conn

	mu      sync.Mutex
	out     [][]byte
	closing bool // close after the queue is drained
	wake    chan struct{}
	authed  bool
	format  string
	all     bool
	events  map[string]bool
	customs map[string]bool
	filters []header
}

func (c *inboundConn) send(b []byte) {
	c.mu.Lock()
	c.out = append(c.out, b)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *inboundConn) sendAndClose(b []byte) {
	c.mu.Lock()
	c.out = append(c.out, b)
	c.closing = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *inboundConn) writer() {
	defer c.srv.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.srv.ctx.Done():
			return
		}
		c.mu.Lock()
		out, closing := c.out, c.closing
		c.out = nil
		c.mu.Unlock()
		for _, b := range out {
			if _, err := c.conn.Write(b); err != nil {
				_ = c.conn.Close()
				return
			}
		}
		if closing {
			_ = c.conn.Close()
			return
		}
	}
}

func (c *inboundConn) serve() {
	defer c.srv.wg.Done()
	defer func() {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}()
	c.send(encodeAuthRequest())
	r := bufio.NewReader(c.conn)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			c.mu.Lock()
			c.closing = true
			c.mu.Unlock()
			return
		}
		if !c.handle(cmd) {
			return
		}
	}
}

// handle runs one command; false ends the connection.
func (c *inboundConn) handle(cmd *command) bool {
	verb := cmd.verb()
	if !c.authed {
		if verb != "auth" {
			c.send(encodeReply("-ERR command not found"))
			return true
		}
		if cmd.arg() != c.srv.Password {
			c.send(encodeReply("-ERR invalid"))
			c.sendAndClose(encodeGoodbye())
			return false
		}
		c.authed = true
		c.send(encodeReply("+OK accepted"))
		return true
	}
	switch verb {
	case "api":
		body, then := c.srv.api(cmd.arg())
		c.send(encodeAPI(body))
		if then != nil {
			then()
		}
	case "bgapi":
		job := cmd.get("Job-UUID")
		if job == "" {
			job = newUUID()
		}
		c.send(encodeJobReply(job))
		line := cmd.arg()
		c.srv.wg.Add(1)
		go func() {
			defer c.srv.wg.Done()
			body, then := c.srv.api(line)
			name, arg, _ := strings.Cut(line, " ")
			l := c.srv.si.eventHeader("BACKGROUND_JOB", siteJob.file, siteJob.function, siteJob.line)
			l.add("Job-UUID", job)
			l.add("Job-Command", name)
			if arg = strings.TrimSpace(arg); arg != "" {
				l.add("Job-Command-Arg", arg)
			}
			c.srv.broadcast(&eventMsg{headers: l, body: body})
			if then != nil {
				then()
			}
		}()
	case "event", "events":
		c.subscribe(cmd.arg())
	case "noevents":
		c.mu.Lock()
		c.format, c.all = "", false
		c.events, c.customs = map[string]bool{}, map[string]bool{}
		c.mu.Unlock()
		c.send(encodeReply("+OK no longer listening for events"))
	case "filter":
		name, value, _ := strings.Cut(cmd.arg(), " ")
		c.mu.Lock()
		c.filters = append(c.filters, header{name, strings.TrimSpace(value)})
		c.mu.Unlock()
		c.send(encodeReply(fmt.Sprintf("+OK filter added. [%s]=[%s]", name, strings.TrimSpace(value))))
	case "exit":
		c.send(encodeReply("+OK bye"))
		c.sendAndClose(encodeGoodbye())
		return false
	default:
		c.send(encodeReply("-ERR command not found"))
	}
	return true
}

func (c *inboundConn) subscribe(arg string) {
	fields := strings.Fields(arg)
	format := "plain"
	if len(fields) > 0 {
		switch strings.ToLower(fields[0]) {
		case "plain", "json", "xml":
			format = strings.ToLower(fields[0])
			fields = fields[1:]
		}
	}
	c.mu.Lock()
	c.format = format
	custom := false
	for _, f := range fields {
		switch {
		case strings.EqualFold(f, "ALL"):
			c.all = true
		case f == "CUSTOM":
			custom = true
		case custom && strings.Contains(f, "::"):
			c.customs[f] = true
		default:
			c.events[strings.ToUpper(f)] = true
		}
	}
	c.mu.Unlock()
	c.send(encodeReply("+OK event listener enabled " + format))
}

func (c *inboundConn) deliver(ev *eventMsg) {
	c.mu.Lock()
	format := c.format
	ok := format != "" && c.authed
	if ok && !c.all {
		name := ev.name()
		if name == "CUSTOM" {
			sub, _ := ev.headers.get("Event-Subclass")
			ok = c.customs[sub]
		} else {
			ok = c.events[name]
		}
	}
	if ok && len(c.filters) > 0 {
		ok = false
		for _, f := range c.filters {
			if v, _ := ev.headers.get(f.name); v == f.value {
				ok = true
			}
		}
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	if format == "json" {
		c.send(ev.encodeJSON())
		return
	}
	c.send(ev.encodePlain())
}

func (s *Server) broadcast(ev *eventMsg) {
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
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "status":
		s.mu.Lock()
		n := s.sessions
		s.mu.Unlock()
		return s.si.statusBody(n), nil
	case "uptime":
		return s.si.uptimeSeconds(), nil
	case "version":
		return versionBody, nil
	case "uuid_kill":
		uuid, cause, _ := strings.Cut(arg, " ")
		if cause = strings.TrimSpace(cause); cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.mu.Lock()
		_, ok := s.channels[uuid]
		s.mu.Unlock()
		if !ok {
			return "-ERR No such channel!\n", nil
		}
		return "+OK\n", func() { s.kill(uuid, cause) }
	case "uuid_exists":
		s.mu.Lock()
		_, ok := s.channels[arg]
		s.mu.Unlock()
		if ok {
			return "true", nil
		}
		return "false", nil
	case "originate":
		return s.originate(arg), nil
	}
	return "-ERR " + name + " Command not found!\n", nil
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
	if s.Script != nil {
		script = s.Script(dest)
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

	target := s.OutboundAddr
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
		call, err := startOutbound(s.ctx, target, script, s.si, func(cause string) {
			sc.mu.Lock()
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
