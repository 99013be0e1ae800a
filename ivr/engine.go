// Package ivr runs calls: one Session per call, driven by its own goroutine
// through a looplab/fsm machine built from a compiled flow (package flows).
//
// A node sends its application(s) over the call's outbound ESL connection
// with our own Event-UUID and advances only on the CHANNEL_EXECUTE_COMPLETE
// that carries that Application-UUID, on a prefetch result, on a timer or on
// hangup — never on a sleep, never by matching application names. Hangup at
// any moment moves the machine to flows.StateHungUp; nothing is sent after it.
package ivr

import (
	"context"
	"io/fs"
	"log/slog"
	"time"

	"github.com/fsivr/fsivr/flows"
)

// ChannelVarFlow is the channel variable that picks a call's flow
// (`<action application="set" data="ivr_flow=sales"/>` before the socket).
const ChannelVarFlow = "ivr_flow"

// Config configures an Engine.
type Config struct {
	Flows       FlowSource
	DefaultFlow string
	CallLog     CallLog               // nil: entries are dropped
	Prefetchers map[string]Prefetcher // by prefetch kind, e.g. "crm"
	Overrides   OverrideStore         // nil: time nodes ignore overrides
	Logger      *slog.Logger
	Metrics     *Metrics         // nil: no metrics
	Now         func() time.Time // nil: time.Now (simulate sets a clock)
	// Sounds are the prompt files as FreeSWITCH has them (ivrd's
	// sounds_dir): a prompt built from data whose file is absent plays the
	// node's fallback_prompt. nil: prompts are sent as rendered.
	Sounds fs.FS
}

// Engine starts a Session for every call handed to it.
type Engine struct {
	flows       FlowSource
	defaultFlow string
	calllog     CallLog
	prefetchers map[string]Prefetcher
	overrides   OverrideStore
	logger      *slog.Logger
	metrics     *Metrics
	now         func() time.Time
	machines    machines // each flow version's looplab/fsm table, built once
	sounds      fs.FS
}

// NewEngine returns an Engine for cfg.
func NewEngine(cfg Config) *Engine {
	e := &Engine{
		flows:       cfg.Flows,
		defaultFlow: cfg.DefaultFlow,
		calllog:     cfg.CallLog,
		prefetchers: cfg.Prefetchers,
		overrides:   cfg.Overrides,
		logger:      cfg.Logger,
		metrics:     cfg.Metrics,
		now:         cfg.Now,
		sounds:      cfg.Sounds,
	}
	if e.calllog == nil {
		e.calllog = discardLog{}
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e
}

// Handle runs one call to its end. Serve calls it for every connection.
func (e *Engine) Handle(ctx context.Context, ch Channel) { e.handle(ctx, ch, nil) }

// handle is the bottom of a call's goroutine: its frame and those of the
// functions it runs the call in stay on the stack while the call waits,
// for minutes, and the runtime shrinks a parked goroutine's stack only
// while less than a quarter of it is in use. So the work that needs big
// frames (the flow lookup's logging, the setup) is in functions of its own
// that have returned by then: each held call keeps a 4 KiB stack instead of
// 8 KiB (BENCHMARKS.md, RSS per held call).
func (e *Engine) handle(ctx context.Context, ch Channel, d *drain) {
	flow := e.flowFor(ch)
	if flow == nil {
		return
	}
	newSession(e, ch, flow, d).Run(ctx)
}

// flowFor picks the flow the channel asks for, or the default; nil (and
// the error logged) when there is none, so the call goes back to the
// dialplan.
//
//go:noinline
func (e *Engine) flowFor(ch Channel) *flows.Flow {
	name := ch.ChannelData().Get("variable_" + ChannelVarFlow)
	if name == "" {
		name = e.defaultFlow
	}
	flow, ok := e.flows.Get(name)
	if !ok && name != e.defaultFlow {
		e.logger.Warn("unknown flow requested; using the default", "uuid", ch.UUID(), "flow", name, "default", e.defaultFlow)
		flow, ok = e.flows.Get(e.defaultFlow)
	}
	if !ok {
		// Returning closes the socket: the dialplan's fallback takes the call.
		e.logger.Error("no flow to run; releasing the call to the dialplan", "uuid", ch.UUID(), "flow", name)
		e.metrics.eslError()
		return nil
	}
	return flow
}

// NewSession prepares a session for one call on flow; Run drives it.
func NewSession(e *Engine, ch Channel, flow *flows.Flow) *Session {
	return newSession(e, ch, flow, nil)
}
