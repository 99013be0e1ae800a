package ivr

import (
	"context"
	"errors"
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
	// DrainSince appends the queued events to buf and returns when the
	// first of them was queued (the start of the session's reaction time).
	DrainSince(buf []*esl.Message) ([]*esl.Message, time.Time)
	Done() <-chan struct{}
}

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
	results    chan *asyncResult
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
	// reactFrom is when the events being handled were queued, until the
	// first command that answers them is sent or the fsm events they
	// queued have fired (zero otherwise).
	reactFrom time.Time
}

func newSession(eng *Engine, ch Channel, flow *flows.Flow, d *drain) *Session {
	uuid := ch.UUID()
	s := &Session{
		eng:     eng,
		ch:      ch,
		flow:    flow,
		uuid:    uuid,
		vars:    make(map[string]string, 16),
		results: make(chan *asyncResult, len(flow.Prefetch)+1),
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
		s.reactFrom = time.Time{} // the events needed no answer
		if s.phase == phaseDone {
			break
		}
		s.next(ctx)
	}
	s.stopTimer()
}

// next blocks until something moves the call, then hands it to its
// handler. The call spends nearly all its life parked here, so the frames
// on the stack meanwhile (this one, Run's, the handler's below them) are
// kept small and the work is done in the methods called from here: see
// Engine.handle for why that halves a held call's stack.
func (s *Session) next(ctx context.Context) {
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
		s.onDrainStarted()
	case <-s.handoverC:
		s.handoverC = nil
		s.handOver(ctx)
	case <-s.ch.Done():
		s.onConnClosed(ctx)
	case <-ctx.Done():
		s.onReleased(ctx)
	}
}

// onDrainStarted: ivrd is draining. A call still in its flow goes on until
// the drain bound hands it over; one that left the flow (transferred,
// hanging up) does not hold the drain, and its outcome stays.
func (s *Session) onDrainStarted() {
	s.draining = true
	if s.phase == phaseHandedOff {
		s.finish("drain: the call had left the flow")
	}
}

// onConnClosed: the socket is gone. What the reader queued before the close
// is handled first.
func (s *Session) onConnClosed(ctx context.Context) {
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
}

// onReleased: ctx is done; the socket is left for the caller to close,
// which hands the call back to the dialplan's fallback.
func (s *Session) onReleased(ctx context.Context) {
	s.log().Warn("session released to the dialplan", "reason", ctx.Err(), "node", s.state, "phase", s.phase)
	if s.phase == phaseFlow {
		s.outcome = "released"
	}
	s.finish("released")
}

func (s *Session) handleEvents(ctx context.Context) {
	s.evbuf, s.reactFrom = s.ch.DrainSince(s.evbuf[:0])
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
	s.reacted()
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
	s.reacted()
	if _, err := s.ch.Send(ctx, app, arg); err != nil {
		s.sendFailed(app, err)
		return false
	}
	return true
}

// reacted records the reaction time when this command answers events (the
// real clock: the engine's may be a test's fixed one).
func (s *Session) reacted() {
	if !s.reactFrom.IsZero() {
		s.eng.metrics.reaction(time.Since(s.reactFrom))
		s.reactFrom = time.Time{}
	}
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
