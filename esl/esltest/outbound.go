package esltest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Script tells the fake how the caller and the network behave on one call.
// The zero Script is a valid call: async full socket, random UUID, every
// prompt 10ms, no digits, every bridge failing with NO_ANSWER, no caller hangup.
type Script struct {
	UUID                                            string // default: random v4
	CallerIDNumber, CallerIDName, DestinationNumber string
	// Vars are extra channel variables, sent as variable_<k> in the channel
	// data and in every later event (e.g. ivr_flow).
	Vars map[string]string
	// AsyncMode is informational: the socket is always `async full`
	// (Socket-Mode: async, Control: full), which is how fsivr's dialplan runs.
	AsyncMode bool
	// PlaybackDuration is how long each playback (and each prompt inside
	// play_and_get_digits, and each wait for digits that never come) takes.
	PlaybackDuration time.Duration
	// Digits is consumed one entry per play_and_get_digits attempt: "2" =
	// the caller enters 2, "" = silence, anything not matching = invalid.
	// When exhausted every further attempt is silence.
	Digits []string
	// Bridges is consumed one entry per bridge; default: fail with NO_ANSWER.
	Bridges []BridgeOutcome
	// HangupAt makes the caller hang up.
	HangupAt *HangupPoint
	// Observer, when set, is called for every command as it arrives, from the
	// call's goroutine: it must be cheap and must not block.
	Observer func(Record)
	// FifoBridge makes a transfer to a destination starting with "fifo_"
	// produce CUSTOM fifo::info events (push, then bridge-caller-start after
	// PlaybackDuration), as mod_fifo does when an agent takes the caller.
	FifoBridge bool
	// ChannelName overrides the default "sofia/internal/<caller>@127.0.0.1".
	ChannelName string
	// OtherLegUUID, when set, makes the channel look like the B leg of a
	// loopback originate (variable_origination_uuid, variable_loopback_leg ...).
	OtherLegUUID string
	// RejectCause, when set, makes an originate of this script (inbound
	// Server) fail with that cause instead of connecting.
	RejectCause string
}

// BridgeOutcome scripts one bridge: answered for TalkTime, or failed with Cause
// (USER_NOT_REGISTERED, USER_BUSY, NO_ANSWER, ...).
type BridgeOutcome struct {
	Answer   bool
	TalkTime time.Duration
	Cause    string
}

// HangupPoint scripts a caller hangup: Delay after the Nth (1-based, default
// 1) execution of App starts, or, when App is "", Delay after the TCP connect.
type HangupPoint struct {
	App   string
	Nth   int
	Delay time.Duration
	Cause string // default NORMAL_CLEARING
}

// Record is one command the fake received.
type Record struct {
	At   time.Time
	Verb string // connect, myevents, linger, event, sendmsg, api, bgapi, getvar, exit, ...
	Raw  string
	// Headers holds the command's header lines with lowercased names.
	Headers map[string]string
	// App, Arg and EventUUID are set for sendmsg execute.
	App, Arg, EventUUID string
	// SinceLastComplete is the time since the last CHANNEL_EXECUTE_COMPLETE
	// this fake wrote, 0 if none yet.
	SinceLastComplete time.Duration
}

// Call is the result (and, while it runs, the handle) of one outbound call.
type Call struct {
	uuid      string
	hangupReq chan string
	done      chan struct{}

	mu           sync.Mutex
	records      []Record
	events       []string
	hangupCause  string
	disconnected bool
	clientClosed bool
	err          error
	vars         map[string]string
}

// UUID is the channel's Unique-ID.
func (c *Call) UUID() string { return c.uuid }

// Done is closed when the call's connection has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Wait blocks until the connection has ended and returns Err.
func (c *Call) Wait() error {
	<-c.done
	return c.Err()
}

// Commands returns every command received so far, in order.
func (c *Call) Commands() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Record(nil), c.records...)
}

// Events returns the Event-Name of every event the channel produced so far,
// in order, whether or not the client was subscribed to it.
func (c *Call) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// HangupCause is the cause the channel hung up with, "" if it did not hang
// up while the client was connected.
func (c *Call) HangupCause() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hangupCause
}

// Disconnected reports whether the fake ended the connection itself (it sent
// a `disconnect` notice: hangup without linger, exit, linger timeout).
func (c *Call) Disconnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.disconnected
}

// ClosedByClient reports whether the client closed the connection first.
func (c *Call) ClosedByClient() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientClosed
}

// Err is the error that ended the call abnormally (context cancelled, I/O
// error other than the client closing), nil otherwise.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Variables returns a snapshot of the channel variables, updated as the call
// runs (complete after Done).
func (c *Call) Variables() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.vars))
	for k, v := range c.vars {
		out[k] = v
	}
	return out
}

// Hangup makes the caller hang up now with cause (default NORMAL_CLEARING),
// like `uuid_kill` on the caller's leg. It does nothing once the call ended.
func (c *Call) Hangup(cause string) {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	select {
	case c.hangupReq <- cause:
	case <-c.done:
	}
}

// DialOutbound dials addr like FreeSWITCH's `socket addr async full`
// application and plays the channel according to s until the connection ends
// or ctx is done. The returned error is Call.Err (the *Call is non-nil unless
// the dial failed).
func DialOutbound(ctx context.Context, addr string, s Script) (*Call, error) {
	c, err := StartOutbound(ctx, addr, s)
	if err != nil {
		return nil, err
	}
	return c, c.Wait()
}

// StartOutbound is DialOutbound without waiting: it dials, starts the call's
// goroutines and returns; use Call.Wait or Call.Done.
func StartOutbound(ctx context.Context, addr string, s Script) (*Call, error) {
	return startOutbound(ctx, addr, s, newSwitchInfo(), nil)
}

// ErrDial wraps failures to reach the ESL listener.
var ErrDial = errors.New("esltest: dial outbound listener")

func startOutbound(ctx context.Context, addr string, s Script, si *switchInfo, onHangup func(cause string)) (*Call, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrDial, addr, err)
	}
	sess := newSession(ctx, conn, addr, s, si, onHangup)
	go sess.run()
	return sess.call, nil
}

// execReq is one queued sendmsg execute.
type execReq struct {
	app, arg, eventUUID, uuidName string
}

type step struct {
	after time.Duration
	do    func()
}

// running is the app currently executing on the channel.
type running struct {
	req   execReq
	steps []step
	next  time.Time
	// abort writes the app's CHANNEL_EXECUTE_COMPLETE when the channel hangs
	// up under it; nil for apps that never complete (unknown app).
	abort func()
}

// session is one outbound connection. Everything below is owned by the
// session's goroutine (run); only Call's fields are shared, under Call.mu.
type session struct {
	exiting  bool // the client sent exit: a failed write of the goodbye is a close, not an error
	ctx      context.Context
	conn     net.Conn
	script   Script
	call     *Call
	ch       *channel
	si       *switchInfo
	onHangup func(cause string)

	socketData    string
	socketAppUUID string
	started       time.Time

	format     string // "" = no events, plain, json
	myevents   bool
	all        bool
	events     map[string]bool
	customs    map[string]bool
	linger     bool
	lingerSecs int

	queue          []execReq
	cur            *running
	dialplanApp    *execReq
	transferred    bool
	hungUp         bool
	closing        bool
	hangupDeadline time.Time
	hangupCause    string
	lingerDeadline time.Time
	appCounts      map[string]int
	digitIdx       int
	bridgeIdx      int
	lastComplete   time.Time
	lastApp        string
	lastArg        string
}

func newSession(ctx context.Context, conn net.Conn, addr string, s Script, si *switchInfo, onHangup func(string)) *session {
	if s.UUID == "" {
		s.UUID = newUUID()
	}
	if s.CallerIDNumber == "" {
		s.CallerIDNumber = "0000000000"
	}
	if s.DestinationNumber == "" {
		s.DestinationNumber = "ivr"
	}
	if s.PlaybackDuration <= 0 {
		s.PlaybackDuration = 10 * time.Millisecond
	}
	name := s.ChannelName
	if name == "" {
		name = "sofia/internal/" + s.CallerIDNumber + "@127.0.0.1"
	}
	now := time.Now()
	ch := &channel{
		si: si, uuid: s.UUID, name: name, direction: "inbound",
		callerNum: s.CallerIDNumber, callerName: s.CallerIDName, dest: s.DestinationNumber,
		source: "mod_sofia", context: "default", hitDialplan: true,
		state: "CS_EXECUTE", callState: "RINGING", stateNum: "4", answerState: "ringing",
		created: now,
	}
	if strings.HasPrefix(name, "loopback/") {
		ch.source = "mod_loopback"
	}
	ch.vars.add("direction", "inbound")
	ch.vars.add("uuid", s.UUID)
	ch.vars.add("session_id", "1")
	ch.vars.add("channel_name", name)
	ch.vars.add("read_codec", "L16")
	ch.vars.add("read_rate", "8000")
	ch.vars.add("write_codec", "L16")
	ch.vars.add("write_rate", "8000")
	if s.OtherLegUUID != "" {
		ch.vars.add("origination_uuid", s.OtherLegUUID)
		ch.vars.add("other_loopback_leg_uuid", s.OtherLegUUID)
		ch.vars.add("loopback_leg", "B")
	}
	ch.vars.add("call_uuid", s.UUID)
	keys := make([]string, 0, len(s.Vars))
	for k := range s.Vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ch.vars.set(k, s.Vars[k])
	}
	socketData := addr + " async full"
	ch.vars.set("current_application_data", socketData)
	ch.vars.set("current_application", "socket")
	ch.vars.set("socket_host", hostOf(addr))

	sess := &session{
		ctx: ctx, conn: conn, script: s, ch: ch, si: si, onHangup: onHangup,
		socketData: socketData, socketAppUUID: newUUID(), started: now,
		events: map[string]bool{}, customs: map[string]bool{}, appCounts: map[string]int{},
		call: &Call{uuid: s.UUID, hangupReq: make(chan string, 1), done: make(chan struct{})},
	}
	if hp := s.HangupAt; hp != nil && hp.App == "" {
		sess.hangupDeadline = now.Add(hp.Delay)
		sess.hangupCause = hp.Cause
	}
	sess.syncVars()
	return sess
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func (s *session) syncVars() {
	m := make(map[string]string, len(s.ch.vars))
	for _, v := range s.ch.vars {
		m[v.name] = v.value
	}
	s.call.mu.Lock()
	s.call.vars = m
	s.call.mu.Unlock()
}

func (s *session) run() {
	defer close(s.call.done)
	cmds := make(chan *command)
	readErr := make(chan error, 1)
	stopReader := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := bufio.NewReader(s.conn)
		for {
			cmd, err := readCommand(r)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case cmds <- cmd:
			case <-stopReader:
				return
			}
		}
	}()
	defer func() {
		close(stopReader)
		_ = s.conn.Close()
		wg.Wait()
		s.syncVars()
	}()

	for !s.closing {
		var timerC <-chan time.Time
		var timer *time.Timer
		if d, ok := s.nextDeadline(); ok {
			timer = time.NewTimer(time.Until(d))
			timerC = timer.C
		}
		select {
		case <-s.ctx.Done():
			s.fail(s.ctx.Err())
		case cmd := <-cmds:
			s.handle(cmd)
		case err := <-readErr:
			s.readFailed(err)
		case cause := <-s.call.hangupReq:
			s.teardown(cause)
		case <-timerC:
			s.fireTimers()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func (s *session) fail(err error) {
	s.call.mu.Lock()
	if s.call.err == nil {
		s.call.err = err
	}
	s.call.mu.Unlock()
	s.closing = true
}

func (s *session) readFailed(err error) {
	if isClosedErr(err) {
		s.call.mu.Lock()
		s.call.clientClosed = true
		s.call.mu.Unlock()
		s.closing = true
		return
	}
	s.fail(fmt.Errorf("esltest: reading command: %w", err))
}

func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection reset")
}

func (s *session) nextDeadline() (time.Time, bool) {
	var best time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	if !s.hungUp {
		consider(s.hangupDeadline)
	}
	if s.cur != nil && len(s.cur.steps) > 0 {
		consider(s.cur.next)
	}
	consider(s.lingerDeadline)
	return best, !best.IsZero()
}

func (s *session) fireTimers() {
	now := time.Now()
	if !s.hungUp && !s.hangupDeadline.IsZero() && !now.Before(s.hangupDeadline) {
		cause := s.hangupCause
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.hangupDeadline = time.Time{}
		s.teardown(cause)
	}
	if !s.lingerDeadline.IsZero() && !now.Before(s.lingerDeadline) {
		s.lingerDeadline = time.Time{}
		s.write(encodeSessionGoodbye(s.ch.uuid))
		s.markDisconnected()
		return
	}
	s.advance()
}

func (s *session) write(b []byte) {
	if s.closing {
		return
	}
	if _, err := s.conn.Write(b); err != nil {
		if s.exiting {
			// The client sent exit and closed without reading the goodbye:
			// FreeSWITCH just ends the session, so no error for the call.
			s.closing = true
			return
		}
		s.readFailed(err)
	}
}

func (s *session) markDisconnected() {
	s.call.mu.Lock()
	s.call.disconnected = true
	s.call.mu.Unlock()
	s.closing = true
}

func (s *session) reply(text string) { s.write(encodeReply(text)) }

// record stores the command and tells the observer.
func (s *session) record(cmd *command) {
	rec := Record{At: time.Now(), Verb: cmd.verb(), Raw: cmd.raw, Headers: make(map[string]string, len(cmd.headers))}
	for _, h := range cmd.headers {
		rec.Headers[strings.ToLower(h.name)] = h.value
	}
	if rec.Verb == "sendmsg" && strings.EqualFold(cmd.get("call-command"), "execute") {
		rec.App = cmd.get("execute-app-name")
		rec.Arg = execArg(cmd)
		rec.EventUUID = cmd.get("Event-UUID")
	}
	if !s.lastComplete.IsZero() {
		rec.SinceLastComplete = rec.At.Sub(s.lastComplete)
	}
	s.call.mu.Lock()
	s.call.records = append(s.call.records, rec)
	s.call.mu.Unlock()
	if s.script.Observer != nil {
		s.script.Observer(rec)
	}
}

func execArg(cmd *command) string {
	if cmd.body != "" && strings.EqualFold(cmd.get("content-type"), "text/plain") {
		return cmd.body
	}
	return cmd.get("execute-app-arg")
}

func (s *session) handle(cmd *command) {
	s.record(cmd)
	switch cmd.verb() {
	case "connect":
		s.write(s.ch.channelData("async"))
	case "myevents":
		if s.myevents {
			s.reply("-ERR aready enabled.")
			return
		}
		s.myevents = true
		s.format = "plain"
		for _, f := range strings.Fields(cmd.arg()) {
			if f == "json" || f == "plain" || f == "xml" {
				s.format = f
			}
		}
		s.reply("+OK Events Enabled")
	case "linger":
		s.linger = true
		if n, err := strconv.Atoi(cmd.arg()); err == nil && n > 0 {
			s.lingerSecs = n
			s.reply(fmt.Sprintf("+OK will linger %d seconds", n))
			return
		}
		s.lingerSecs = 0
		s.reply("+OK will linger")
	case "nolinger":
		s.linger = false
		s.reply("+OK will not linger")
	case "event", "events":
		s.subscribe(cmd.arg())
	case "noevents":
		s.format, s.myevents, s.all = "", false, false
		s.events, s.customs = map[string]bool{}, map[string]bool{}
		s.reply("+OK no longer listening for events")
	case "api":
		body, then := s.api(cmd.arg())
		s.write(encodeAPI(body))
		if then != nil {
			then()
		}
	case "bgapi":
		s.bgapi(cmd)
	case "getvar":
		v, _ := s.ch.vars.get(cmd.arg())
		s.reply(v)
	case "sendmsg":
		s.sendmsg(cmd)
	case "exit":
		s.exiting = true
		s.reply("+OK bye")
		s.write(encodeSessionGoodbye(s.ch.uuid))
		s.markDisconnected()
	case "resume":
		s.reply("+OK")
	default:
		s.reply("-ERR command not found")
	}
}

func (s *session) subscribe(arg string) {
	fields := strings.Fields(arg)
	format := "plain"
	if len(fields) > 0 {
		switch strings.ToLower(fields[0]) {
		case "plain", "json", "xml":
			format = strings.ToLower(fields[0])
			fields = fields[1:]
		}
	}
	s.format = format
	custom := false
	for _, f := range fields {
		switch {
		case f == "ALL" || f == "all":
			s.all = true
		case f == "CUSTOM":
			custom = true
		case custom && strings.Contains(f, "::"):
			s.customs[f] = true
		default:
			s.events[strings.ToUpper(f)] = true
		}
	}
	s.reply("+OK event listener enabled " + format)
}

// myEvent reports whether `myevents` subscribes to the event name
// (mod_event_socket's list of channel events).
func myEvent(name string) bool {
	switch name {
	case "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP",
		"CHANNEL_HANGUP_COMPLETE", "CHANNEL_APPLICATION", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE",
		"CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
		"CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_ORIGINATE", "DTMF",
		"DETECTED_SPEECH", "RECORD_START", "RECORD_STOP", "CALL_UPDATE":
		return true
	}
	return false
}

func (s *session) wants(ev *eventMsg) bool {
	if s.format == "" {
		return false
	}
	name := ev.name()
	if s.all {
		return true
	}
	if name == "CUSTOM" {
		sub, _ := ev.headers.get("Event-Subclass")
		return s.customs[sub]
	}
	return s.events[name] || (s.myevents && myEvent(name))
}

// emit records a channel event and sends it when subscribed.
func (s *session) emit(ev *eventMsg) {
	s.call.mu.Lock()
	s.call.events = append(s.call.events, ev.name())
	s.call.mu.Unlock()
	if !s.wants(ev) {
		return
	}
	if s.format == "json" {
		s.write(ev.encodeJSON())
		return
	}
	s.write(ev.encodePlain())
}

// api runs the api commands an outbound socket may send for its own channel.
// then, when non-nil, must run after the response is written (uuid_kill's
// hangup events follow its +OK).
func (s *session) api(line string) (body string, then func()) {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "uptime":
		return s.si.uptimeSeconds(), nil
	case "version":
		return versionBody, nil
	case "status":
		return s.si.statusBody(1), nil
	case "uuid_kill":
		uuid, cause, _ := strings.Cut(arg, " ")
		if uuid != s.ch.uuid || s.hungUp {
			return "-ERR No such channel!\n", nil
		}
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		return "+OK\n", func() { s.teardown(cause) }
	case "uuid_getvar":
		uuid, v, _ := strings.Cut(arg, " ")
		if uuid != s.ch.uuid {
			return "-ERR No such channel!\n", nil
		}
		if val, ok := s.ch.vars.get(strings.TrimSpace(v)); ok {
			return val, nil
		}
		return "_undef_", nil
	case "uuid_setvar":
		parts := strings.SplitN(arg, " ", 3)
		if len(parts) < 2 || parts[0] != s.ch.uuid {
			return "-ERR No such channel!\n", nil
		}
		if len(parts) == 3 {
			s.ch.vars.set(parts[1], parts[2])
		} else {
			s.ch.vars.del(parts[1])
		}
		s.syncVars()
		return "+OK\n", nil
	}
	return "-ERR " + name + " Command not found!\n", nil
}

func (s *session) bgapi(cmd *command) {
	job := cmd.get("Job-UUID")
	if job == "" {
		job = newUUID()
	}
	s.write(encodeJobReply(job))
	body, then := s.api(cmd.arg())
	name, arg, _ := strings.Cut(cmd.arg(), " ")
	l := s.si.eventHeader("BACKGROUND_JOB", siteJob.file, siteJob.function, siteJob.line)
	l.add("Job-UUID", job)
	l.add("Job-Owner-UUID", s.ch.uuid)
	l.add("Job-Command", name)
	if arg = strings.TrimSpace(arg); arg != "" {
		l.add("Job-Command-Arg", arg)
	}
	s.emit(&eventMsg{headers: l, body: body})
	if then != nil {
		then()
	}
}

func (s *session) sendmsg(cmd *command) {
	if target := cmd.arg(); target != "" && target != s.ch.uuid {
		s.reply("-ERR invalid session id [" + target + "]")
		return
	}
	s.reply("+OK")
	if s.hungUp || s.transferred {
		// The channel is gone or no longer parked in the socket app: FS still
		// says +OK (the private event is queued) but nothing runs.
		return
	}
	switch strings.ToLower(cmd.get("call-command")) {
	case "execute":
		req := execReq{app: cmd.get("execute-app-name"), arg: execArg(cmd), eventUUID: cmd.get("Event-UUID"), uuidName: cmd.get("Event-UUID-Name")}
		if req.eventUUID == "" {
			req.eventUUID = newUUID()
		}
		s.queue = append(s.queue, req)
		if s.cur == nil {
			s.startNext()
		}
	case "hangup":
		cause := cmd.get("hangup-cause")
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.teardown(cause)
	}
}

// after schedules fn d after the previous step of the running app.
func (s *session) after(d time.Duration, fn func()) {
	if s.cur == nil {
		return
	}
	s.cur.steps = append(s.cur.steps, step{d, fn})
}

func (s *session) startNext() {
	if s.cur != nil || len(s.queue) == 0 || s.hungUp || s.closing {
		return
	}
	req := s.queue[0]
	s.queue = s.queue[1:]
	s.cur = &running{req: req, next: time.Now()}
	s.cur.abort = func() { s.complete("") }
	s.after(0, func() { s.runApp(req) })
	s.advance()
}

// advance runs every step of the current app that is due, then starts the
// next queued app when the current one is finished.
func (s *session) advance() {
	for s.cur != nil && len(s.cur.steps) > 0 && !time.Now().Before(s.cur.next) {
		st := s.cur.steps[0]
		s.cur.steps = s.cur.steps[1:]
		cur := s.cur
		st.do()
		s.syncVars()
		if s.cur != cur {
			break
		}
		if len(s.cur.steps) == 0 {
			s.cur = nil
			break
		}
		s.cur.next = time.Now().Add(s.cur.steps[0].after)
	}
	if s.cur == nil {
		s.startNext()
	}
}

// execute does what switch_core_session_exec does before running an app:
// sets the loop and current_application variables and fires CHANNEL_EXECUTE.
func (s *session) execute(req execReq) {
	v := &s.ch.vars
	for _, k := range []string{"current_application_data", "current_application", "current_application_response"} {
		v.del(k)
	}
	v.set("current_loop", "1")
	v.set("total_loops", "1")
	v.set("current_application", req.app)
	if req.arg != "" {
		v.set("current_application_data", req.arg)
	}
	s.emit(s.ch.event("CHANNEL_EXECUTE", siteExecute, s.appHeaders(req, "", false)...))
	if req.arg != "" {
		v.set("current_application_data", req.arg)
	}
	v.set("current_application", req.app)
	s.lastApp, s.lastArg = req.app, req.arg

	s.appCounts[req.app]++
	if hp := s.script.HangupAt; hp != nil && hp.App == req.app && s.hangupDeadline.IsZero() {
		nth := hp.Nth
		if nth <= 0 {
			nth = 1
		}
		if s.appCounts[req.app] == nth {
			s.hangupDeadline = time.Now().Add(hp.Delay)
			s.hangupCause = hp.Cause
		}
	}
}

func (s *session) appHeaders(req execReq, response string, complete bool) []header {
	h := []header{{"Application", req.app}}
	if req.arg != "" {
		h = append(h, header{"Application-Data", req.arg})
	}
	if complete {
		if response == "" {
			response = "_none_"
		}
		h = append(h, header{"Application-Response", response})
	}
	h = append(h, header{"Application-UUID", req.eventUUID})
	if req.uuidName != "" {
		h = append(h, header{"Application-UUID-Name", req.uuidName})
	}
	return h
}

// complete fires CHANNEL_EXECUTE_COMPLETE for the running app.
func (s *session) complete(response string) {
	if s.cur == nil {
		return
	}
	if response != "" {
		s.ch.vars.set("current_application_response", response)
	}
	s.emit(s.ch.event("CHANNEL_EXECUTE_COMPLETE", siteComplete, s.appHeaders(s.cur.req, response, true)...))
	s.ch.vars.del("current_loop")
	s.ch.vars.del("total_loops")
	s.lastComplete = time.Now()
}

func (s *session) setPlaybackVars(d time.Duration) {
	ms := d.Milliseconds()
	s.ch.vars.set("playback_last_offset_pos", strconv.FormatInt(ms*8, 10))
	s.ch.vars.set("playback_seconds", strconv.FormatInt(ms/1000, 10))
	s.ch.vars.set("playback_ms", strconv.FormatInt(ms, 10))
	s.ch.vars.set("playback_samples", strconv.FormatInt(ms*8, 10))
}

func (s *session) runApp(req execReq) {
	d := s.script.PlaybackDuration
	switch req.app {
	case "answer", "pre_answer":
		s.execute(req)
		if req.app == "answer" {
			s.answer()
		}
		s.complete("")
	case "playback":
		s.execute(req)
		start := time.Now()
		s.cur.abort = func() {
			s.setPlaybackVars(time.Since(start))
			s.complete("PLAYBACK ERROR")
		}
		s.after(d, func() {
			s.setPlaybackVars(d)
			s.complete("FILE PLAYED")
		})
	case "play_and_get_digits":
		s.execute(req)
		s.playAndGetDigits(req)
	case "set", "export":
		s.execute(req)
		if k, v, ok := strings.Cut(req.arg, "="); ok {
			if v == "" {
				s.ch.vars.del(k)
			} else {
				s.ch.vars.set(k, v)
			}
		}
		s.complete("")
	case "unset":
		s.execute(req)
		s.ch.vars.del(req.arg)
		s.complete("")
	case "bridge":
		s.execute(req)
		s.bridge(req)
	case "transfer":
		s.execute(req)
		s.transfer(req)
	case "hangup":
		s.execute(req)
		cause := strings.TrimSpace(req.arg)
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.teardown(cause)
	case "sleep":
		s.execute(req)
		ms, _ := strconv.Atoi(strings.TrimSpace(req.arg))
		s.after(time.Duration(ms)*time.Millisecond, func() { s.complete("") })
	case "park", "log", "info", "ring_ready", "respond", "sched_hangup", "event":
		// park under socket control is a no-op in FS (it only logs an error).
		s.execute(req)
		s.complete("")
	default:
		// FS does not know the app: no EXECUTE, no COMPLETE, the channel
		// is hung up with DESTINATION_OUT_OF_ORDER.
		slog.Debug("esltest: unknown application", "app", req.app, "uuid", s.ch.uuid)
		s.cur.abort = nil
		s.teardown("DESTINATION_OUT_OF_ORDER")
	}
}

func (s *session) answer() {
	if s.ch.answerState == "answered" {
		return
	}
	s.ch.markAnswered()
	s.emit(s.ch.event("CHANNEL_ANSWER", siteAnswer))
	s.ch.vars.set("endpoint_disposition", "ANSWER")
}

// nextDigits consumes the next scripted DTMF entry ("" = silence).
func (s *session) nextDigits() string {
	if s.digitIdx >= len(s.script.Digits) {
		return ""
	}
	d := s.script.Digits[s.digitIdx]
	s.digitIdx++
	return d
}

func (s *session) dtmf(digit rune) {
	s.ch.digits += string(digit)
	s.emit(s.ch.event("DTMF", siteDTMF,
		header{"DTMF-Digit", string(digit)}, header{"DTMF-Duration", "2000"}, header{"DTMF-Source", "RTP"}))
}

// playAndGetDigits follows switch_play_and_get_digits: per try play the
// prompt, read digits (terminators end the entry), accept when the count is
// within min..max and the regexp matches (unanchored, like FS), otherwise play
// the invalid prompt and try again; after `tries` failures the variable is
// left unset and read_result is "timeout" (last try silent) or "failure".
func (s *session) playAndGetDigits(req execReq) {
	d := s.script.PlaybackDuration
	f := strings.Fields(req.arg)
	if len(f) < 8 {
		s.complete("")
		return
	}
	minDigits, _ := strconv.Atoi(f[0])
	maxDigits, _ := strconv.Atoi(f[1])
	tries, _ := strconv.Atoi(f[2])
	if tries < 1 {
		tries = 1
	}
	terminators, varName := f[4], f[7]
	var re *regexp.Regexp
	if len(f) >= 9 {
		var err error
		if re, err = regexp.Compile(f[8]); err != nil {
			slog.Debug("esltest: play_and_get_digits regexp not usable in Go", "re", f[8], "err", err)
		}
	}
	finish := func(value, result string) {
		s.setPlaybackVars(d)
		s.ch.vars.set("read_result", result)
		if value != "" {
			s.ch.vars.set(varName, value)
		} else {
			s.ch.vars.del(varName)
		}
		s.complete("")
	}
	s.cur.abort = func() { s.complete("") }
	attempt := 0
	var try func()
	retry := func(result string) func() {
		return func() {
			if attempt < tries {
				try()
				return
			}
			finish("", result)
		}
	}
	try = func() {
		attempt++
		s.after(d, func() { // prompt played
			entry := s.nextDigits()
			if entry == "" {
				s.after(d, func() { s.after(d, retry("timeout")) }) // wait, then invalid prompt
				return
			}
			digits := entry
			for i, r := range entry {
				s.dtmf(r)
				if terminators != "none" && strings.ContainsRune(terminators, r) {
					digits = entry[:i]
					break
				}
			}
			if maxDigits > 0 && len(digits) > maxDigits {
				digits = digits[:maxDigits]
			}
			valid := len(digits) >= minDigits && digits != "" && (len(f) < 9 || (re != nil && re.MatchString(digits)))
			if valid {
				finish(digits, "success")
				return
			}
			s.after(d, retry("failure")) // invalid prompt
		})
	}
	try()
}

// dialStatus maps a hangup cause to the DIALSTATUS value.
func dialStatus(cause string) string {
	switch cause {
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER", "NO_USER_RESPONSE":
		return "NOANSWER"
	}
	return cause
}

func (s *session) bridge(req execReq) {
	out := BridgeOutcome{Cause: "NO_ANSWER"}
	if s.bridgeIdx < len(s.script.Bridges) {
		out = s.script.Bridges[s.bridgeIdx]
	}
	s.bridgeIdx++
	if user, ok := strings.CutPrefix(req.arg, "user/"); ok {
		u, domain, _ := strings.Cut(user, "@")
		if domain == "" {
			domain = "127.0.0.1"
		}
		s.ch.vars.set("dialed_user", u)
		s.ch.vars.set("dialed_domain", domain)
	}
	if !out.Answer {
		cause := out.Cause
		if cause == "" {
			cause = "NO_ANSWER"
		}
		s.ch.vars.set("originate_disposition", cause)
		s.ch.vars.set("DIALSTATUS", dialStatus(cause))
		s.ch.vars.set("originate_failed_cause", cause)
		s.complete("")
		return
	}
	other := newUUID()
	s.ch.vars.set("originate_disposition", "SUCCESS")
	s.ch.vars.set("DIALSTATUS", "SUCCESS")
	s.ch.vars.set("bridge_to", other)
	s.ch.vars.set("last_bridge_to", other)
	s.emit(s.ch.event("CHANNEL_BRIDGE", siteBridge,
		header{"Bridge-A-Unique-ID", s.ch.uuid}, header{"Bridge-B-Unique-ID", other}, header{"Other-Leg-Unique-ID", other}))
	s.after(out.TalkTime, func() {
		s.ch.vars.set("bridge_hangup_cause", "NORMAL_CLEARING")
		s.ch.vars.set("last_bridge_hangup_cause", "NORMAL_CLEARING")
		s.emit(s.ch.event("CHANNEL_UNBRIDGE", siteUnbridge,
			header{"Bridge-A-Unique-ID", s.ch.uuid}, header{"Bridge-B-Unique-ID", other}, header{"Other-Leg-Unique-ID", other}))
		if v, _ := s.ch.vars.get("hangup_after_bridge"); v == "true" {
			s.teardown("NORMAL_CLEARING")
			return
		}
		s.complete("")
	})
}

// transfer completes the transfer and the socket app (the socket app ends,
// the connection stays and keeps getting this channel's events), then plays
// the part of the dialplan the fake knows (park, fifo_*).
func (s *session) transfer(req execReq) {
	dest := strings.Fields(req.arg + " ")
	target := ""
	if len(dest) > 0 {
		target = dest[0]
	}
	hist := fmt.Sprintf("%d:%s:bl_xfer:%s/default/XML", time.Now().Unix(), newUUID(), target)
	s.ch.vars.set("max_forwards", "70")
	s.ch.vars.set("transfer_history", hist)
	s.ch.vars.set("transfer_source", hist)
	s.complete("")
	s.cur.abort = nil
	s.queue = nil
	s.transferred = true
	s.emit(s.ch.event("CHANNEL_UNPARK", siteUnpark))
	s.emit(s.socketComplete())
	s.ch.state, s.ch.stateNum = "CS_ROUTING", "2"
	s.emit(s.ch.event("CHANNEL_STATE", siteState))
	s.ch.state, s.ch.stateNum = "CS_EXECUTE", "4"
	s.emit(s.ch.event("CHANNEL_STATE", siteState))
	s.ch.dest = target
	switch {
	case target == "park":
		s.dialplanExecute(execReq{app: "park", eventUUID: newUUID()})
		s.emit(s.ch.event("CHANNEL_PARK", sitePark))
	case strings.HasPrefix(target, "fifo_"):
		s.dialplanExecute(execReq{app: "fifo", arg: target + " in", eventUUID: newUUID()})
		s.emit(s.fifoEvent(target, "push"))
		if s.script.FifoBridge {
			s.after(s.script.PlaybackDuration, func() { s.emit(s.fifoEvent(target, "bridge-caller-start")) })
		}
	}
}

func (s *session) dialplanExecute(req execReq) {
	v := &s.ch.vars
	v.del("current_application_data")
	v.set("current_application", req.app)
	if req.arg != "" {
		v.set("current_application_data", req.arg)
	}
	s.emit(s.ch.event("CHANNEL_EXECUTE", siteExecute, s.appHeaders(req, "", false)...))
	s.dialplanApp = &req
	s.lastApp, s.lastArg = req.app, req.arg
}

func (s *session) fifoEvent(fifo, action string) *eventMsg {
	l := headerList{{"Event-Subclass", "fifo::info"}}
	l = append(l, s.si.eventHeader("CUSTOM", siteCustomFifo.file, siteCustomFifo.function, siteCustomFifo.line)...)
	s.ch.channelBlock(&l)
	s.ch.addVariables(&l)
	l.add("FIFO-Name", fifo)
	l.add("FIFO-Action", action)
	if action == "bridge-caller-start" {
		l.add("FIFO-Consumer-Unique-ID", newUUID())
	}
	return &eventMsg{headers: l}
}

func (s *session) socketComplete() *eventMsg {
	return s.ch.event("CHANNEL_EXECUTE_COMPLETE", siteComplete,
		header{"Application", "socket"}, header{"Application-Data", s.socketData},
		header{"Application-Response", "_none_"}, header{"Application-UUID", s.socketAppUUID})
}

// teardown hangs the channel up with cause, in the captured order:
// CHANNEL_HANGUP, the running app's COMPLETE, CHANNEL_UNPARK, the socket
// app's COMPLETE, CHANNEL_STATE x2, CHANNEL_HANGUP_COMPLETE, then the
// disconnect notice (linger: keep the socket; otherwise close it).
func (s *session) teardown(cause string) {
	if s.hungUp {
		return
	}
	s.hungUp = true
	ch := s.ch
	ch.startHangup(cause)
	s.emit(ch.event("CHANNEL_HANGUP", siteHangup))
	if s.cur != nil {
		if s.cur.abort != nil {
			s.cur.abort()
		}
		s.cur = nil
	}
	s.queue = nil
	s.emit(ch.event("CHANNEL_UNPARK", siteUnpark))
	if s.transferred {
		if s.dialplanApp != nil {
			s.emit(ch.event("CHANNEL_EXECUTE_COMPLETE", siteComplete, s.appHeaders(*s.dialplanApp, "", true)...))
		}
	} else {
		s.emit(s.socketComplete())
	}
	ch.state = "CS_HANGUP"
	s.emit(ch.event("CHANNEL_STATE", siteState))
	ch.state, ch.callState, ch.stateNum = "CS_REPORTING", "HANGUP", "11"
	ch.hungup = time.Now()
	s.emit(ch.event("CHANNEL_STATE", siteState))
	ch.setCDRVariables(s.lastApp, s.lastArg)
	s.emit(ch.event("CHANNEL_HANGUP_COMPLETE", siteHangupDone))
	s.syncVars()
	s.call.mu.Lock()
	s.call.hangupCause = cause
	s.call.mu.Unlock()
	if s.onHangup != nil {
		s.onHangup(cause)
	}
	if s.linger {
		secs := -1
		if s.lingerSecs > 0 {
			secs = s.lingerSecs
			s.lingerDeadline = time.Now().Add(time.Duration(secs) * time.Second)
		}
		s.write(encodeLingerNotice(ch.uuid, ch.name, secs))
		return
	}
	s.write(encodeSessionGoodbye(ch.uuid))
	s.markDisconnected()
}
