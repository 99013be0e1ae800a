package ivr

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/looplab/fsm"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
)

// Channel is what a session needs from the outbound ESL connection of its
// call; *esl.OutboundConn satisfies it, and ivrtest.Channel is one in memory
// for tests of event orderings.
type Channel interface {
	UUID() string
	ChannelData() *esl.Message
	// Send queues an app with our own Event-UUID and returns that UUID once
	// FreeSWITCH has accepted it; the completion arrives through Drain.
	Send(ctx context.Context, app, arg string) (string, error)
	// API runs an api command (uuid_transfer for the drain hand-over).
	API(ctx context.Context, cmd string) (string, error)
	Notify() <-chan struct{}
	Drain(buf []*esl.Message) []*esl.Message
	Done() <-chan struct{}
}

// drain is how Serve tells its sessions that a drain began and that its
// bound is reached.
type drain struct {
	started  chan struct{} // closed when the drain begins
	handover chan struct{} // closed at DrainTimeout: hand calls still in their flow over
	fallback string        // ServeOptions.Fallback
}

// hangupGrace bounds how long a session waits for CHANNEL_HANGUP_COMPLETE
// after CHANNEL_HANGUP before it writes the hangup entry from what it has.
const hangupGrace = 5 * time.Second

// Session is one call: it owns the call's looplab/fsm machine, its variables,
// its phase and what it waits for, and only its own goroutine (Run) touches
// them.
type Session struct {
	eng  *Engine
	ch   Channel
	flow *flows.Flow
	uuid string
	// logger is the diagnostic log (slog, ivrd's JSON lines) with the
	// call's uuid, flow and version, built by log() on the first line the
	// call writes: at Info a call that goes well writes one ("call end").
	// The call log (Redis) is written by callLog only.
	logger *slog.Logger
	// machine is the flow version's looplab/fsm, shared by its calls;
	// state is this call's state in it (a node id, flows.StateEnd or
	// flows.StateHungUp).
	machine *flowMachine
	state   string
	metrics *flowMetrics // the flow's metric children; nil: no metrics

	vars  map[string]string // ${name} values: builtins, prefetch fields, digits
	path  []string          // node ids in the order entered
	start time.Time

	phase phase
	wait  wait
	// timer runs while a bounded wait (prefetch, override, hangup
	// complete) is set; timerC is its channel then, nil otherwise.
	timer  *time.Timer
	timerC <-chan time.Time
	// step counts the sendmsg of a multi-step node (play prompts, bridge prompt).
	step int
	// keysInNode counts the DTMF digits received since the node was entered.
	keysInNode int
	// queued is an outcome to fire once the current input is handled, so a
	// node that completes at once never recurses into the next one.
	queued flows.Outcome

	// Async inputs: prefetch results and override reads, each from its own
	// goroutine into this buffered channel (sized so no sender ever blocks).
	results    chan asyncResult
	prefetched map[string]*asyncResult
	ovSeq      uint32 // number of the latest override read

	// The call's extension and context when it reached us: a completion
	// naming another one means someone else moved the call.
	dest0, context0 string
	ownTransfer     bool // the flow (or an override) sent a transfer
	// drain signals of Serve; a channel is set to nil once handled.
	drain       *drain
	drainStartC <-chan struct{}
	handoverC   <-chan struct{}
	draining    bool

	connGone    bool // the connection is closed: nothing can be sent
	hangupCause string
	outcome     string
	cancel      context.CancelFunc
	evbuf       []*esl.Message
}

type resultKind uint8

const (
	resultPrefetch resultKind = iota
	resultOverride
)

type asyncResult struct {
	kind   resultKind
	name   string
	fields map[string]string
	value  string
	err    error
	took   time.Duration
	seq    uint32 // override reads: which read this answers
}

func newSession(eng *Engine, ch Channel, flow *flows.Flow, d *drain) *Session {
	uuid := ch.UUID()
	s := &Session{
		eng:     eng,
		ch:      ch,
		flow:    flow,
		uuid:    uuid,
		vars:    make(map[string]string, 16),
		results: make(chan asyncResult, len(flow.Prefetch)+1),
		outcome: "caller_hangup",
		drain:   d,
	}
	if d != nil {
		s.drainStartC, s.handoverC = d.started, d.handover
	}
	s.machine, s.state = eng.machines.of(flow), flow.Start
	s.metrics = eng.metrics.forFlow(flow.Name)
	return s
}

// Run drives the call until the channel is gone. It returns when the call
// has hung up (and its hangup was logged), when the connection closes, or
// when ctx is done; in the last case the socket is left for the caller to
// close, which hands the call back to the dialplan's fallback.
func (s *Session) Run(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	defer s.cancel()
	s.begin(ctx)
	for s.phase != phaseDone {
		s.fireQueued(ctx)
		if s.phase == phaseDone {
			break
		}
		select {
		case <-s.ch.Notify():
			s.handleEvents(ctx)
		case r := <-s.results:
			s.onResult(ctx, r)
		case <-s.timerC:
			s.timerC = nil
			s.onTimeout()
		case <-s.drainStartC:
			s.drainStartC = nil
			s.draining = true
			if s.phase == phaseHandedOff {
				// The call left the flow (transferred, hanging up): it does
				// not hold the drain, and its outcome stays.
				s.finish("drain: the call had left the flow")
			}
		case <-s.handoverC:
			s.handoverC = nil
			s.handOver(ctx)
		case <-s.ch.Done():
			// Handle what the reader queued before the close.
			s.connGone = true
			s.handleEvents(ctx)
			if s.phase != phaseDone {
				if s.phase < phaseHangingUp && s.outcome == "caller_hangup" {
					// FreeSWITCH went away (restart, network) with the call
					// state unknown: say so rather than "caller_hangup".
					s.outcome = "disconnected"
				}
				s.finish("connection closed")
			}
		case <-ctx.Done():
			s.log().Warn("session released to the dialplan", "reason", ctx.Err(), "node", s.state, "phase", s.phase)
			if s.phase == phaseFlow {
				s.outcome = "released"
			}
			s.finish("released")
		}
	}
	s.stopTimer()
}

func (s *Session) handleEvents(ctx context.Context) {
	s.evbuf = s.ch.Drain(s.evbuf[:0])
	for i, ev := range s.evbuf {
		s.onEvent(ctx, ev)
		s.evbuf[i] = nil
	}
}

func (s *Session) begin(ctx context.Context) {
	s.start = s.eng.now()
	data := s.ch.ChannelData()
	caller := data.Get("Caller-Caller-ID-Number")
	if caller == "" {
		caller = data.Get("Channel-Caller-ID-Number")
	}
	dest := data.Get("Caller-Destination-Number")
	if dest == "" {
		dest = data.Get("Channel-Destination-Number")
	}
	s.dest0, s.context0 = dest, data.Get("Caller-Context")
	s.vars["caller_id"] = caller
	s.vars["caller_name"] = data.Get("Caller-Caller-ID-Name")
	s.vars["destination"] = dest
	s.vars["uuid"] = s.uuid
	s.vars["flow"] = s.flow.Name

	s.metrics.callStarted()
	s.callLog(calllog.KindCallStart, s.flow.Start, caller, map[string]string{
		"caller": caller, "called": dest, "channel": data.Get("Channel-Name"),
	})
	if s.debug() {
		s.log().Debug("call start", "caller", caller, "called", dest)
	}

	for name, p := range s.flow.Prefetch {
		s.startPrefetch(ctx, name, p)
	}
	if _, err := s.ch.Send(ctx, "answer", ""); err != nil {
		s.sendFailed("answer", err)
		return
	}
	s.path = append(s.path, s.flow.Start) // the machine starts in it: no enter_state
	s.enter(ctx, s.flow.Start)
}

func (s *Session) startPrefetch(ctx context.Context, name string, p *flows.Prefetch) {
	pf, ok := s.eng.prefetchers[p.Kind]
	if !ok {
		s.log().Warn("no prefetcher for kind; treated as missing", "prefetch", name, "kind", p.Kind)
		s.results <- asyncResult{kind: resultPrefetch, name: name, err: errors.New("no prefetcher configured")}
		return
	}
	key, err := p.Key.Render(s.lookup)
	if err == nil && key == "" {
		key = p.Default
	}
	if err != nil {
		s.results <- asyncResult{kind: resultPrefetch, name: name, err: err}
		return
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultPrefetchTimeout
	}
	results := s.results
	go func() {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		t0 := time.Now()
		fields, err := pf.Prefetch(pctx, key)
		select {
		case results <- asyncResult{kind: resultPrefetch, name: name, fields: fields, err: err, took: time.Since(t0)}:
		case <-ctx.Done(): // the call is over; nobody reads results any more
		}
	}()
}

// lookup resolves ${name} for templates.
func (s *Session) lookup(name string) (string, bool) {
	v, ok := s.vars[name]
	if !ok {
		// A declared but unanswered prefetch field, or a variable a branch
		// not taken would have set, renders empty rather than failing.
		if i := strings.IndexByte(name, '.'); i > 0 {
			if _, declared := s.flow.Prefetch[name[:i]]; declared {
				return "", true
			}
		}
	}
	return v, ok
}

// render resolves a template whose result reaches a command argument: every
// substituted value is checked (checkArgValue).
func (s *Session) render(t flows.Template) (string, error) {
	var bad error
	out, err := t.Render(func(name string) (string, bool) {
		v, ok := s.lookup(name)
		if ok && bad == nil {
			bad = checkArgValue(name, v)
		}
		return v, ok
	})
	if err != nil {
		return "", err
	}
	return out, bad
}

// renderPrompt renders a prompt of node n. A prompt built from data whose
// file is not in the engine's sounds (new_sales/8${ext}.wav for an
// extension nobody recorded) is replaced by the node's fallback_prompt, so
// the caller hears something.
func (s *Session) renderPrompt(n *flows.Node, t flows.Template) (string, error) {
	file, err := s.render(t)
	if err != nil || t.IsStatic() || n.FallbackPrompt.Raw == "" || s.eng.sounds == nil || file == "" {
		return file, err
	}
	if st, err := fs.Stat(s.eng.sounds, file); err == nil && !st.IsDir() {
		return file, nil
	}
	s.log().Info("prompt file absent; playing the fallback", "node", n.ID, "prompt", file, "fallback", n.FallbackPrompt.Raw)
	return n.FallbackPrompt.Raw, nil
}

// enter runs the entry action of node id: the decision was the machine's,
// the I/O is the session's.
func (s *Session) enter(ctx context.Context, id string) {
	if s.phase != phaseFlow || s.connGone {
		return
	}
	s.wait, s.step, s.keysInNode = wait{}, 0, 0
	if id == flows.StateEnd {
		s.handedOff()
		return
	}
	n, ok := s.flow.Nodes[id]
	if !ok {
		s.fail("unknown node "+id, nil)
		return
	}
	label := n.Log
	if label == "" {
		label = n.ID
	}
	s.callLog(calllog.KindNode, n.ID, label, nil)
	if s.debug() {
		s.log().Debug("enter node", "node", n.ID, "kind", n.Kind)
	}
	r, ok := runners[n.Kind]
	if !ok {
		s.fail("unknown node kind "+string(n.Kind), nil)
		return
	}
	r.enter(s, ctx, n)
}

// current is the node the machine is in; nil after the flow.
func (s *Session) current() *flows.Node { return s.flow.Nodes[s.state] }

// send queues one application and makes it what the node waits for.
func (s *Session) send(ctx context.Context, app, arg string) bool {
	if !s.canSend() {
		return false
	}
	s.ownTransfer = s.ownTransfer || app == "transfer"
	id, err := s.ch.Send(ctx, app, arg)
	if err != nil {
		s.sendFailed(app, err)
		return false
	}
	s.wait = wait{kind: waitApp, appUUID: id, app: app, sent: s.eng.now()}
	return true
}

// sendNoWait queues an application whose completion nobody waits for
// (FreeSWITCH runs a channel's apps in order, so a set before a bridge is
// done before the bridge starts).
func (s *Session) sendNoWait(ctx context.Context, app, arg string) bool {
	if !s.canSend() {
		return false
	}
	s.ownTransfer = s.ownTransfer || app == "transfer"
	if _, err := s.ch.Send(ctx, app, arg); err != nil {
		s.sendFailed(app, err)
		return false
	}
	return true
}

// canSend: only the flow sends, and never after the caller or the
// connection is gone.
func (s *Session) canSend() bool { return s.phase == phaseFlow && !s.connGone }

func (s *Session) sendFailed(app string, err error) {
	if errors.Is(err, esl.ErrHangup) {
		// The CHANNEL_HANGUP event is (or will be) in the mailbox; until it
		// is handled nothing more is sent.
		s.phase = phaseHangingUp
		s.wait = wait{}
		return
	}
	s.eng.metrics.eslError()
	s.log().Error("sendmsg failed", "app", app, "err", err)
	s.callLog(calllog.KindError, s.state, "sendmsg "+app, map[string]string{"error": err.Error()})
	s.outcome = "error"
	s.finish("sendmsg failed")
}

// fail ends the flow on an internal error: the socket is released so the
// dialplan's fallback after the socket action takes the caller somewhere.
func (s *Session) fail(msg string, err error) {
	fields := map[string]string{}
	if err != nil {
		fields["error"] = err.Error()
	}
	s.log().Error("flow error; releasing the call to the dialplan", "node", s.state, "msg", msg, "err", err)
	s.callLog(calllog.KindError, s.state, msg, fields)
	s.outcome = "error"
	s.finish("error")
}

func (s *Session) queue(o flows.Outcome) { s.queued = o }

// fireQueued fires outcomes until the machine waits for input again.
func (s *Session) fireQueued(ctx context.Context) {
	for s.queued != "" && s.phase == phaseFlow {
		ev := s.queued
		s.queued = ""
		from := s.state
		to, err := s.machine.fire(from, string(ev))
		var noTrans fsm.NoTransitionError
		switch {
		case err == nil:
			s.state = to
			if to != flows.StateEnd && to != flows.StateHungUp {
				s.path = append(s.path, to)
			}
		case errors.As(err, &noTrans):
			// A node that leads back to itself (a menu replaying on "9"):
			// looplab/fsm has no self-transition and enters no state, so
			// the session records and re-enters the node itself.
			s.path = append(s.path, from)
		default:
			s.fail("no transition "+string(ev)+" from "+from, err)
			return
		}
		s.metrics.nodeDone(from, string(ev))
		s.enter(ctx, s.state)
	}
}

func (s *Session) onEvent(ctx context.Context, ev *esl.Message) {
	switch ev.Name() {
	case "CHANNEL_EXECUTE_COMPLETE":
		switch {
		case s.wait.kind == waitApp && ev.Get("Application-UUID") == s.wait.appUUID:
			w := s.wait
			s.wait = wait{}
			s.eng.metrics.appLatency(w.app, s.eng.now().Sub(w.sent))
			if w.app != "transfer" && s.movedElsewhere(ev) {
				// Our app was ended by someone else's transfer: its result
				// (an empty menu, say) is no input of the flow.
				s.transferredAway(ev)
				return
			}
			s.onComplete(ctx, ev)
		case ev.Get("Application") == "socket" && s.phase == phaseFlow && !s.ownTransfer:
			// The socket application itself is over: the channel went
			// elsewhere while the flow was still running.
			s.transferredAway(ev)
		}
	case "DTMF":
		s.keysInNode++
		s.callLog(calllog.KindDTMF, s.where(), ev.Get("DTMF-Digit"), map[string]string{"source": ev.Get("DTMF-Source")})
	case "CUSTOM":
		if ev.Get("Event-Subclass") == "fifo::info" {
			s.callLog(calllog.KindFIFO, s.where(), ev.Get("FIFO-Action"), fifoFields(ev))
		}
	case "CHANNEL_BRIDGE":
		s.setOutcome("bridged")
		s.callLog(calllog.KindBridge, s.where(), "bridged", map[string]string{"other": ev.Get("Other-Leg-Unique-ID")})
	case "CHANNEL_ANSWER":
		s.callLog(calllog.KindAnswer, s.where(), "", nil)
	case "CHANNEL_HANGUP":
		s.onHangup(ev)
	case "CHANNEL_HANGUP_COMPLETE":
		s.onHangup(ev)
		s.finish("hangup")
	}
}

// onComplete handles the CHANNEL_EXECUTE_COMPLETE of the application the
// current node waits for.
func (s *Session) onComplete(ctx context.Context, ev *esl.Message) {
	n := s.current()
	if n == nil {
		return
	}
	if r := runners[n.Kind]; r.complete != nil {
		r.complete(s, ctx, n, ev)
	}
}

func (s *Session) onHangup(ev *esl.Message) {
	if cause := ev.Get("Hangup-Cause"); cause != "" {
		s.hangupCause = cause
	}
	if s.state == flows.StateHungUp || s.phase == phaseDone {
		return
	}
	s.phase = phaseHangingUp
	s.queued = ""
	if to, err := s.machine.fire(s.state, eventHangup); err != nil {
		if s.debug() {
			s.log().Debug("hangup transition", "err", err)
		}
	} else {
		s.state = to
	}
	if s.debug() {
		s.log().Debug("caller hung up or call ended", "cause", s.hangupCause, "node", s.lastNode())
	}
	// Nothing waits for a node's input any more: wait a bounded time for
	// HANGUP_COMPLETE, then finish with what we have.
	s.await(wait{kind: waitHangupComplete}, hangupGrace)
}

// movedElsewhere reports whether a completion names another extension or
// context than the call had: FreeSWITCH ended the app because the channel
// was transferred (uuid_transfer from another socket, an attended
// transfer, a supervisor pickup).
func (s *Session) movedElsewhere(ev *esl.Message) bool {
	d, c := ev.Get("Caller-Destination-Number"), ev.Get("Caller-Context")
	return d != "" && d != s.dest0 || c != "" && s.context0 != "" && c != s.context0
}

// transferredAway ends the flow because someone else moved the call: from
// now on the session sends nothing (the esl connection says only "exit"
// when it closes) and keeps logging the channel's events until hangup.
func (s *Session) transferredAway(ev *esl.Message) {
	if s.phase != phaseFlow {
		return
	}
	dest, ctxName := ev.Get("Caller-Destination-Number"), ev.Get("Caller-Context")
	s.log().Info("call transferred away by someone else; the flow is over", "node", s.state, "dest", dest, "context", ctxName)
	s.callLog(calllog.KindTransfer, s.state, dest, transferFields(dest, "", ctxName, "external"))
	s.outcome = "transferred_away"
	s.queued = ""
	s.stopTimer()
	s.handedOff()
}

// handedOff: the flow is over but the channel is still ours to observe. In
// a drain such a call ends at once.
func (s *Session) handedOff() {
	s.phase = phaseHandedOff
	s.wait = wait{}
	if s.draining {
		s.finish("drain: the call had left the flow")
	}
}

// handOver runs at the drain bound: a call still in its flow is transferred
// to the flow's (or ivrd's) fallback with uuid_transfer, which ends the
// running app at once, instead of the socket closing under a menu that
// would first run all its tries.
func (s *Session) handOver(ctx context.Context) {
	if s.phase != phaseFlow || s.connGone {
		return
	}
	fb := s.flow.Fallback
	if fb == "" && s.drain != nil {
		fb = s.drain.fallback
	}
	if fb == "" {
		s.log().Warn("drain bound reached and no fallback transfer configured; the socket will be closed", "node", s.state)
		return
	}
	w := strings.Fields(fb)
	for len(w) < 3 {
		w = append(w, "")
	}
	if _, err := s.ch.API(ctx, "uuid_transfer "+s.uuid+" "+fb); err != nil {
		s.log().Error("drain hand-over failed; the socket will be closed", "fallback", fb, "err", err)
		return
	}
	s.log().Warn("drain bound reached; call handed to the fallback", "node", s.state, "fallback", fb)
	s.callLog(calllog.KindTransfer, s.state, w[0], transferFields(w[0], w[1], w[2], "drain"))
	s.outcome = "drain_transfer:" + w[0]
	s.queued = ""
	s.stopTimer()
	s.handedOff()
	s.finish("drain hand-over")
}

// transferFields is the one format of every transfer entry: dest, dialplan,
// context and who moved the call (flow, override, external, drain).
func transferFields(dest, dialplan, context, by string) map[string]string {
	return map[string]string{"dest": dest, "dialplan": dialplan, "context": context, "by": by}
}

// setOutcome records an outcome the flow reached; once the flow is over
// (handed off, hanging up) the logged outcome stays what it was.
func (s *Session) setOutcome(o string) {
	if s.phase == phaseFlow {
		s.outcome = o
	}
}

// where is the node an event belongs to: the current node, or after the
// flow the node that ended it (not the machine's end/hungup states).
func (s *Session) where() string {
	if cur := s.state; cur != flows.StateEnd && cur != flows.StateHungUp {
		return cur
	}
	return s.lastNode()
}

// fifoHeaders are what mod_fifo's fifo::info events may carry besides
// FIFO-Name and FIFO-Action; each action carries only some (push and abort:
// FIFO-Slot, no caller or consumer numbers; bridge-caller-start: the
// consumer's), so only those present are logged.
var fifoHeaders = [...][2]string{
	{"FIFO-Slot", "slot"},
	{"FIFO-Caller-CID-Name", "caller_name"},
	{"FIFO-Caller-CID-Number", "caller"},
	{"FIFO-Consumer-CID-Name", "consumer_name"},
	{"FIFO-Consumer-CID-Number", "consumer"},
	{"FIFO-Consumer-Outgoing-UUID", "consumer_uuid"},
	{"FIFO-Caller-Talk-Time", "talk_time"},
	{"FIFO-Caller-Wait-Time", "wait_time"},
}

func fifoFields(ev *esl.Message) map[string]string {
	f := map[string]string{"fifo": ev.Get("FIFO-Name")}
	for _, h := range fifoHeaders {
		if v := ev.Get(h[0]); v != "" {
			f[h[1]] = v
		}
	}
	return f
}

func (s *Session) lastNode() string {
	if len(s.path) == 0 {
		return ""
	}
	return s.path[len(s.path)-1]
}

func (s *Session) onResult(ctx context.Context, r asyncResult) {
	switch r.kind {
	case resultPrefetch:
		s.onPrefetch(r)
	case resultOverride:
		// A late answer to an earlier read (its node already routed by
		// time) must not be taken for the current node's override.
		if s.wait.kind != waitOverride || r.seq != s.wait.seq {
			return
		}
		s.wait = wait{}
		s.stopTimer()
		s.onOverride(ctx, r)
	}
}

func (s *Session) onPrefetch(r asyncResult) {
	s.eng.metrics.prefetch(r.name, r.err, r.took)
	fields := map[string]string{"took_ms": strconv.FormatInt(r.took.Milliseconds(), 10)}
	outcome := "ok"
	var nf interface{ NotFound() bool }
	switch {
	case errors.As(r.err, &nf) && nf.NotFound():
		// An unknown caller is an answer, not a failure (crm.ErrNotFound).
		outcome = "not_found"
		fields["error"] = r.err.Error()
	case r.err != nil:
		outcome = "error"
		fields["error"] = r.err.Error()
	default:
		for k, v := range r.fields {
			s.vars[r.name+"."+k] = v
			fields[k] = v
		}
	}
	fields["outcome"] = outcome
	if s.prefetched == nil {
		s.prefetched = make(map[string]*asyncResult, len(s.flow.Prefetch))
	}
	s.prefetched[r.name] = &r
	// The entry's kind is the prefetch's kind, never its name: a name
	// comes from the flow file and must not be taken for a core kind.
	fields["prefetch"] = r.name
	s.callLog(prefetchEntryKind(s.flow.Prefetch[r.name]), s.lastNode(), outcome, fields)
	if s.wait.kind == waitPrefetch && s.wait.prefetch == r.name {
		s.wait = wait{}
		s.stopTimer()
		s.finishWaitFor(s.current())
	}
}

// onTimeout: the bound of the current wait ran out.
func (s *Session) onTimeout() {
	w := s.wait
	s.wait = wait{}
	switch w.kind {
	case waitHangupComplete:
		s.finish("hangup (no HANGUP_COMPLETE)")
	case waitPrefetch:
		s.callLog(prefetchEntryKind(s.flow.Prefetch[w.prefetch]), s.state, "late", map[string]string{"prefetch": w.prefetch})
		s.queue(flows.OutcomeMissing)
	case waitOverride:
		n := s.current()
		s.log().Warn("override read timed out; routing by time", "node", n.ID)
		s.routeByTime(n)
	}
}

// await sets a bounded wait and (re)arms the timer for it.
func (s *Session) await(w wait, bound time.Duration) {
	s.wait = w
	if s.timer == nil {
		s.timer = time.NewTimer(bound)
	} else {
		s.timer.Reset(bound)
	}
	s.timerC = s.timer.C
}

func (s *Session) stopTimer() {
	if s.timerC != nil {
		s.timer.Stop()
		s.timerC = nil
	}
}

// finish writes the hangup entry (once) and ends the loop.
func (s *Session) finish(reason string) {
	if s.phase == phaseDone {
		return
	}
	s.phase = phaseDone
	s.wait = wait{}
	s.cancel() // stops prefetches still running
	cause := s.hangupCause
	end := s.eng.now()
	path := strings.Join(s.path, calllog.PathSeparator)
	duration := strconv.FormatInt(end.Sub(s.start).Milliseconds(), 10)
	s.callLog(calllog.KindHangup, s.lastNode(), cause, map[string]string{
		"cause":    cause,
		"path":     path,
		"outcome":  s.outcome,
		"reason":   reason,
		"duration": duration,
	})
	s.metrics.callEnded(s.outcome)
	if s.eng.logger.Enabled(context.Background(), slog.LevelInfo) {
		// The one Info line of a call: everything ops look for in it.
		s.log().Info("call end", "caller", s.vars["caller_id"], "called", s.dest0, "cause", cause,
			"outcome", s.outcome, "path", path, "reason", reason, "duration", duration)
	}
}

// log returns the call's logger, building it on first use.
func (s *Session) log() *slog.Logger {
	if s.logger == nil {
		s.logger = s.eng.logger.With("uuid", s.uuid, "flow", s.flow.Name, "version", s.flow.Version)
	}
	return s.logger
}

// debug reports whether Debug lines are written: per-event lines are
// built only then (their arguments cost allocations even when dropped).
func (s *Session) debug() bool { return s.eng.logger.Enabled(context.Background(), slog.LevelDebug) }

// prefetchEntryKind is the call-log kind of a prefetch's result: crm, the
// only prefetch kind (flows.PrefetchKindCRM) flows accepts.
func prefetchEntryKind(*flows.Prefetch) calllog.Kind { return calllog.KindCRM }

// callLog hands one entry to the call log (Redis, not slog); it never blocks.
func (s *Session) callLog(kind calllog.Kind, node, value string, fields map[string]string) {
	s.eng.calllog.Append(calllog.Entry{
		Call:        s.uuid,
		Flow:        s.flow.Name,
		FlowVersion: s.flow.Version,
		Node:        node,
		Kind:        kind,
		Value:       value,
		Fields:      fields,
		Time:        s.eng.now(),
	})
}
