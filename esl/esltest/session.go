package esltest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
)

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
	onHangup func(cause string, vars map[string]string)

	socketData    string
	socketAppUUID string
	started       time.Time

	sub        subscription
	linger     bool
	lingerSecs int

	queue          []execReq
	cur            *running
	timers         []timer
	executeDelay   time.Duration
	playbackIdx    int
	dialplanApp    *execReq // the app the dialplan runs after a transfer (park, fifo)
	fifo           string   // the fifo the caller waits in, "" if none
	fifoBridged    bool
	fifoBridgedAt  time.Time
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

	varsSynced    bool
	syncedVersion uint64 // of ch.vars when last published
	// out collects what the session writes while it handles one thing
	// (a command, a timer, an action); flush sends it in one write. The
	// messages FreeSWITCH produces at one moment arrive in one read too
	// (the captures' transcripts show them at the same time stamp, e.g.
	// a sendmsg's +OK with the CHANNEL_PARK after it); the bytes are the
	// same either way, and one write instead of one per event is most of
	// what a fake call costs the load tool in system calls.
	out      []byte  // nil between turns
	outBuf   *[]byte // what out came from (outBuffers)
	writeErr bool    // a write failed: nothing more is sent
}

func newSession(ctx context.Context, conn net.Conn, addr string, s Script, si *switchInfo, onHangup func(string, map[string]string)) *session {
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
		sub: newSubscription(), appCounts: map[string]int{},
		call: &Call{uuid: s.UUID, actions: make(chan func(*session), 16), done: make(chan struct{})},
	}
	switch {
	case s.ExecuteDelay == 0:
		sess.executeDelay = DefaultExecuteDelay
	case s.ExecuteDelay > 0:
		sess.executeDelay = s.ExecuteDelay
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

// syncVars publishes the channel variables to Call.Variables when they
// changed since the last time: a copy of the list (Variables makes the
// map), as the session keeps changing its own.
func (s *session) syncVars() {
	if s.varsSynced && s.syncedVersion == s.ch.vars.version {
		return
	}
	s.varsSynced, s.syncedVersion = true, s.ch.vars.version
	vars := slices.Clone(s.ch.vars.list)
	s.call.mu.Lock()
	s.call.vars = vars
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
		s.flush() // what the last turn wrote (a goodbye) goes before the close
		close(stopReader)
		_ = s.conn.Close()
		wg.Wait()
		s.syncVars()
	}()

	// One timer for the whole call, reset per wait (since Go 1.23 a
	// stopped or reset timer delivers no stale tick).
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for !s.closing {
		var timerC <-chan time.Time
		armed := false
		if d, ok := s.nextDeadline(); ok {
			timer.Reset(time.Until(d))
			timerC, armed = timer.C, true
		}
		select {
		case <-s.ctx.Done():
			s.fail(s.ctx.Err())
		case cmd := <-cmds:
			s.handle(cmd)
		case err := <-readErr:
			s.readFailed(err)
		case act := <-s.call.actions:
			act(s)
			s.syncVars()
		case <-timerC:
			armed = false
			s.fireTimers()
		}
		if armed {
			timer.Stop()
		}
		s.flush()
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
	if s.cur == nil && len(s.queue) > 0 {
		consider(s.queue[0].due)
	}
	for _, t := range s.timers {
		consider(t.at)
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
	s.runTimers(now)
	s.advance()
}

// timer is something the channel does at a time of its own, apart from
// the running app's steps (a fifo agent answering, a digit pressed during
// a playback).
type timer struct {
	at time.Time
	do func()
}

// later schedules fn d from now.
func (s *session) later(d time.Duration, fn func()) {
	s.timers = append(s.timers, timer{time.Now().Add(d), fn})
}

func (s *session) runTimers(now time.Time) {
	for {
		i := slices.IndexFunc(s.timers, func(t timer) bool { return !now.Before(t.at) })
		if i < 0 {
			return
		}
		t := s.timers[i]
		s.timers = slices.Delete(s.timers, i, i+1)
		t.do()
		s.syncVars()
	}
}

// write queues b for the next flush; once the session is closing nothing
// more is sent.
func (s *session) write(b []byte) {
	if s.closing {
		return
	}
	s.buffer()
	s.out = append(s.out, b...)
}

// outBuffers are the sessions' output buffers between turns: a call
// writes a few KiB per turn, and a held call should not keep a buffer
// while it waits. A sync.Pool, as fmt keeps its printers: a cache, no
// state of the fake.
var outBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// buffer makes sure the session has an output buffer for this turn.
func (s *session) buffer() {
	if s.out == nil {
		s.outBuf = outBuffers.Get().(*[]byte)
		s.out = (*s.outBuf)[:0]
	}
}

// flush sends what the session wrote since the last flush.
func (s *session) flush() {
	if s.out == nil {
		return
	}
	var err error
	if len(s.out) > 0 && !s.writeErr {
		_, err = s.conn.Write(s.out)
	}
	if cap(s.out) <= 64<<10 { // a rare big burst's buffer is not kept
		*s.outBuf = s.out[:0]
		outBuffers.Put(s.outBuf)
	}
	s.out, s.outBuf = nil, nil
	if err != nil {
		s.writeErr = true
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
	rec := newRecord(cmd)
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

// emitEvent records the channel event and sends it when subscribed: the
// common case (plain or xml, which is sent as plain; no filter) encodes it straight into the output, the
// others through emit's header list.
func (s *session) emitEvent(name string, site callSite, extra ...header) {
	if s.sub.format == "json" || len(s.sub.filters) > 0 {
		s.emit(s.ch.event(name, site, extra...))
		return
	}
	s.call.mu.Lock()
	s.call.events = append(s.call.events, name)
	s.call.mu.Unlock()
	if s.closing || !s.sub.wantsName(name) {
		return
	}
	s.buffer()
	s.out = s.ch.appendPlainEvent(s.out, name, site, extra)
}

// emit records a channel event and sends it when subscribed.
func (s *session) emit(ev *eventMsg) {
	s.call.mu.Lock()
	s.call.events = append(s.call.events, ev.name())
	s.call.mu.Unlock()
	if s.sub.wants(ev) {
		s.write(s.sub.encode(ev))
	}
}
