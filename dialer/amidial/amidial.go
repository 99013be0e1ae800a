// Package amidial is the dialer's Asterisk backend: each attempt is an
// Async Originate followed to its one outcome by ami.Tracker, over one
// shared AMI connection kept up by ami.Reconnector.
//
// The attempt id is the call's ChannelId (so the Uniqueid of the first
// channel, known before the call exists), OtherChannelId is id+"-2", and
// the correlation variable (ami.DefaultVariable, FSIVR_CALL_ID) carries it
// too, with FSIVR_CAMPAIGN and FSIVR_CONTACT and the contact's variables.
// On answer the call goes to the campaign's Context/Exten/Priority or runs
// its Application/Data. Every value is validated before anything is sent
// (no CR/LF, commas or pipes; bounded length).
//
// Outcomes map to the dialer's dispositions: answered, busy (Reason 5,
// cause 17), no answer (Reason 3, causes 18/19), congestion (Reason 8,
// cause 34), rejected (21), invalid number (no such extension, unknown
// technology, causes 1/3/28), failed. The trunk's throttling is Throttled:
// DialStatus CHANUNAVAIL, cause 42 (switching equipment congestion), and a
// burst of congestion (ThrottleBurst within ThrottleWindow) since a
// carrier's SIP 503 reaches Asterisk as cause 34. A call the Tracker gave up
// on (no OriginateResponse in time, or gone after a reconnect without a
// decision) is Unknown: it may have rung, so it is never re-dialed.
package amidial

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/dialer"
)

// Config configures a Backend.
type Config struct {
	Addr     string
	Username string
	Secret   string
	AMI      ami.Config // connection settings; its Logger defaults to Logger
	Logger   *slog.Logger
	// Tick is how often the Tracker's deadlines are checked. Default 500ms.
	Tick time.Duration
	// ThrottleBurst congestion outcomes within ThrottleWindow make the
	// following ones Throttled. Defaults 3 and 2s.
	ThrottleBurst  int
	ThrottleWindow time.Duration
}

// Backend places calls over AMI. Run must be running for calls to be
// placed; without a connection Originate returns dialer.ErrNotPlaced.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	client     *ami.Client
	tracker    *ami.Tracker
	waiting    map[string]chan ami.Outcome
	congestion []time.Time
	// adopted are live calls of a dead dialer found by Reconcile, followed
	// by their events until they hang up (ended).
	adopted   map[string]*adoptedCall
	ready     chan struct{} // closed once the first connection is up
	readyOnce sync.Once
}

// adoptedCall is a taken-over call we did not originate: its answer and
// hangup come from the channel events (the OriginateResponse is long gone).
type adoptedCall struct {
	id       string
	answered time.Time
	cause2   string // hangup cause of the ;2 leg of a Local channel (the real one)
	ended    bool
	gone     int // Reconciles that found the channel gone without its Hangup
	out      dialer.Outcome
}

// New returns a backend for cfg; call Run.
func New(cfg Config) *Backend {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tick == 0 {
		cfg.Tick = 500 * time.Millisecond
	}
	if cfg.ThrottleBurst == 0 {
		cfg.ThrottleBurst = 3
	}
	if cfg.ThrottleWindow == 0 {
		cfg.ThrottleWindow = 2 * time.Second
	}
	return &Backend{cfg: cfg, log: cfg.Logger, tracker: ami.NewTracker(),
		waiting: map[string]chan ami.Outcome{}, adopted: map[string]*adoptedCall{}, ready: make(chan struct{})}
}

// events the Tracker needs.
var trackedEvents = []string{"OriginateResponse", "Newchannel", "Newstate", "DialBegin", "DialEnd", "Hangup"}

// Run keeps the AMI connection up until ctx ends, feeding every event to
// the Tracker. After a reconnect it resyncs the Tracker with
// CoreShowChannels: calls still up go on, the others end.
func (b *Backend) Run(ctx context.Context) error {
	r := &ami.Reconnector{
		Addr: b.cfg.Addr, Username: b.cfg.Username, Secret: b.cfg.Secret,
		Events: trackedEvents, Filters: ami.IncludeEvents(trackedEvents...),
		Config: b.cfg.AMI,
	}
	if r.Logger == nil {
		r.Logger = b.log
	}
	return r.Run(ctx, b.serve)
}

// Ready is closed once the first connection is logged in.
func (b *Backend) Ready() <-chan struct{} { return b.ready }

func (b *Backend) serve(ctx context.Context, c *ami.Client, events *ami.Subscription) {
	channels, err := c.CoreShowChannels(ctx)
	if err != nil {
		b.log.Warn("amidial: CoreShowChannels after connect failed", "err", err)
		return
	}
	b.mu.Lock()
	// Events queued since Login are older than the channel list.
	for _, m := range events.Drain(nil) {
		if out, done := b.tracker.Feed(m, time.Now()); done {
			b.deliverLocked(out)
		}
	}
	for _, out := range b.tracker.Resync(channels, time.Now()) {
		b.deliverLocked(out)
	}
	b.client = c
	b.mu.Unlock()
	b.readyOnce.Do(func() { close(b.ready) })
	tick := time.NewTicker(b.cfg.Tick)
	defer tick.Stop()
	var buf []*ami.Message
	for {
		select {
		case <-ctx.Done():
			b.lost()
			return
		case <-c.Done():
			b.lost()
			return
		case <-events.Notify():
			buf = events.Drain(buf[:0])
			now := time.Now()
			b.mu.Lock()
			for _, m := range buf {
				if out, done := b.tracker.Feed(m, now); done {
					b.deliverLocked(out)
				}
				if len(b.adopted) > 0 {
					b.followAdoptedLocked(m, now)
				}
			}
			b.mu.Unlock()
		case now := <-tick.C:
			b.mu.Lock()
			for _, out := range b.tracker.Tick(now) {
				b.deliverLocked(out)
			}
			b.mu.Unlock()
		}
	}
}

func (b *Backend) lost() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.client = nil
	b.tracker.Disconnected()
}

func (b *Backend) deliverLocked(out ami.Outcome) {
	if ch, ok := b.waiting[out.ID]; ok {
		delete(b.waiting, out.ID)
		ch <- out // buffered 1
	}
}

// originate builds the AMI action for an attempt, validating every value.
func originate(c dialer.Call) (ami.Originate, error) {
	o := ami.Originate{
		Channel: c.Channel, Context: c.Answer.Context, Exten: c.Answer.Exten,
		Application: c.Answer.Application, Data: c.Answer.Data, Timeout: c.Timeout, CallerID: c.CallerID,
	}
	if o.Channel == "" {
		return o, fmt.Errorf("%w: no channel for trunk %q", dialer.ErrInvalidValue, c.Trunk)
	}
	if (o.Context == "") == (o.Application == "") {
		return o, fmt.Errorf("%w: the answer needs either context/exten or application", dialer.ErrInvalidValue)
	}
	if c.Answer.Priority != "" {
		p, err := strconv.Atoi(c.Answer.Priority)
		if err != nil || p < 1 {
			return o, fmt.Errorf("%w: priority %q", dialer.ErrInvalidValue, c.Answer.Priority)
		}
		o.Priority = p
	}
	for _, v := range []string{o.Channel, o.Context, o.Exten, o.Application, o.Data, o.CallerID, c.Campaign, c.ContactID} {
		if err := dialer.CheckValue(v); err != nil {
			return o, err
		}
	}
	o.Variables = append(o.Variables, [2]string{"FSIVR_CAMPAIGN", c.Campaign}, [2]string{"FSIVR_CONTACT", c.ContactID})
	names := make([]string, 0, len(c.Vars))
	for k := range c.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := dialer.CheckName(k); err != nil {
			return o, err
		}
		if err := dialer.CheckValue(c.Vars[k]); err != nil {
			return o, err
		}
		o.Variables = append(o.Variables, [2]string{k, c.Vars[k]})
	}
	return o, nil
}

// Originate implements dialer.Backend.
func (b *Backend) Originate(ctx context.Context, c dialer.Call) (dialer.Outcome, error) {
	log := b.log.With("campaign", c.Campaign, "contact", c.ContactID, "attempt", c.AttemptID)
	o, err := originate(c)
	if err != nil {
		log.Error("amidial: refused to originate", "err", err)
		return dialer.Outcome{Disposition: dialer.Failed, Reason: "invalid value"}, nil
	}
	b.mu.Lock()
	client := b.client
	if client == nil {
		b.mu.Unlock()
		log.Warn("amidial: not placed: not connected", "addr", b.cfg.Addr)
		return dialer.Outcome{}, ErrNotConnected
	}
	o, err = b.tracker.Place(c.AttemptID, o, time.Now())
	if err != nil {
		b.mu.Unlock()
		log.Error("amidial: refused to originate", "err", err)
		return dialer.Outcome{Disposition: dialer.Failed, Reason: "invalid value"}, nil
	}
	ch := make(chan ami.Outcome, 1)
	b.waiting[c.AttemptID] = ch
	b.mu.Unlock()

	_, sendErr := client.Originate(ctx, o)
	b.mu.Lock()
	if out, done := b.tracker.Sent(c.AttemptID, sendErr, time.Now()); done {
		b.deliverLocked(out)
	}
	b.mu.Unlock()
	if sendErr != nil {
		log.Warn("amidial: originate action", "err", sendErr)
	}
	select {
	case out := <-ch:
		d := b.disposition(out)
		log.Info("amidial: outcome", "disposition", d, "reason", out.Reason, "cause", out.Cause, "dial_status", out.DialStatus)
		return dialer.Outcome{Disposition: d, Reason: strconv.Itoa(out.Reason), Cause: strconv.Itoa(out.Cause),
			Answered: out.Answered, Ended: out.Ended}, nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.waiting, c.AttemptID)
		b.mu.Unlock()
		return dialer.Outcome{}, ctx.Err()
	}
}

// disposition maps the Tracker's outcome, detecting trunk throttling.
func (b *Backend) disposition(out ami.Outcome) dialer.Disposition {
	switch out.Disposition {
	case ami.Answered:
		return dialer.Answered
	case ami.Busy:
		return dialer.Busy
	case ami.NoAnswer:
		return dialer.NoAnswer
	case ami.Rejected:
		return dialer.Rejected
	case ami.InvalidDestination:
		return dialer.InvalidNumber
	case ami.Timeout, ami.Unknown:
		return dialer.Unknown
	case ami.Congestion:
		if out.DialStatus == "CHANUNAVAIL" || out.Cause == 42 || b.burst(out.Ended) {
			return dialer.Throttled
		}
		return dialer.Congestion
	}
	if out.DialStatus == "CHANUNAVAIL" {
		return dialer.Throttled
	}
	return dialer.Failed
}

// burst records a congestion and reports whether ThrottleBurst of them
// fell within ThrottleWindow.
func (b *Backend) burst(at time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	cut := at.Add(-b.cfg.ThrottleWindow)
	keep := b.congestion[:0]
	for _, t := range b.congestion {
		if t.After(cut) {
			keep = append(keep, t)
		}
	}
	b.congestion = append(keep, at)
	return len(b.congestion) >= b.cfg.ThrottleBurst
}

// followAdoptedLocked applies one event to the adopted calls: an answer
// (Newstate Up of the first channel) and the hangup of the first channel,
// whose cause decides an unanswered call.
func (b *Backend) followAdoptedLocked(m *ami.Message, now time.Time) {
	uid := m.Get("Uniqueid")
	a := b.adopted[strings.TrimSuffix(uid, "-2")]
	if a == nil || a.ended {
		return
	}
	switch {
	case m.Name() == "Newstate" && uid == a.id:
		if m.Get("ChannelState") == "6" && a.answered.IsZero() {
			a.answered = now
		}
	case m.Name() == "Hangup" && uid != a.id:
		a.cause2 = m.Get("Cause")
	case m.Name() == "Hangup":
		cause := m.Get("Cause")
		if a.cause2 != "" && a.cause2 != "0" {
			cause = a.cause2
		}
		a.ended = true
		a.out = dialer.Outcome{Disposition: causeDisposition(cause, !a.answered.IsZero()), Cause: cause,
			Reason: "adopted", Answered: a.answered, Ended: now}
	}
}

// causeDisposition maps a hangup cause of a call whose OriginateResponse
// was missed.
func causeDisposition(cause string, answered bool) dialer.Disposition {
	if answered {
		return dialer.Answered
	}
	switch cause {
	case "17":
		return dialer.Busy
	case "18", "19":
		return dialer.NoAnswer
	case "34", "38":
		return dialer.Congestion
	case "42":
		return dialer.Throttled
	case "21":
		return dialer.Rejected
	case "1", "3", "28":
		return dialer.InvalidNumber
	}
	return dialer.Failed
}

// Reconcile implements dialer.Reconciler. A call this process tracks is
// live. A call whose channel Asterisk still has (CoreShowChannels,
// Uniqueid = attempt id) is live and adopted: its answer and hangup are
// followed from the events, and a later Reconcile returns its outcome.
// Otherwise AMI cannot tell whether it rang (StateUnknown).
func (b *Backend) Reconcile(ctx context.Context, c dialer.Call) (dialer.State, dialer.Outcome, error) {
	b.mu.Lock()
	tracked := b.tracker.Tracked(c.AttemptID)
	client := b.client
	if a := b.adopted[c.AttemptID]; a != nil && a.ended {
		delete(b.adopted, c.AttemptID)
		b.mu.Unlock()
		return dialer.StateEnded, a.out, nil
	}
	adopted := b.adopted[c.AttemptID]
	b.mu.Unlock()
	if tracked {
		return dialer.StateLive, dialer.Outcome{}, nil
	}
	if client == nil {
		return dialer.StateUnknown, dialer.Outcome{}, ErrNotConnected
	}
	channels, err := client.CoreShowChannels(ctx)
	if err != nil {
		return dialer.StateUnknown, dialer.Outcome{}, fmt.Errorf("amidial: reconcile: %w", err)
	}
	for _, m := range channels {
		if m.Get("Uniqueid") == c.AttemptID {
			if adopted != nil {
				return dialer.StateLive, dialer.Outcome{}, nil
			}
			a := &adoptedCall{id: c.AttemptID}
			if m.Get("ChannelState") == "6" {
				a.answered = time.Now()
			}
			b.mu.Lock()
			b.adopted[c.AttemptID] = a
			b.mu.Unlock()
			return dialer.StateLive, dialer.Outcome{}, nil
		}
	}
	if adopted != nil {
		// Gone: its Hangup may still be queued; after a second look it
		// was missed (it came before the adoption) and the outcome is lost.
		b.mu.Lock()
		defer b.mu.Unlock()
		if adopted.gone++; adopted.gone < 2 {
			return dialer.StateLive, dialer.Outcome{}, nil
		}
		delete(b.adopted, c.AttemptID)
	}
	return dialer.StateUnknown, dialer.Outcome{}, nil
}

// Ping implements dialer.Pinger.
func (b *Backend) Ping(ctx context.Context) error {
	b.mu.Lock()
	client := b.client
	b.mu.Unlock()
	if client == nil {
		return ErrNotConnected
	}
	return client.Ping(ctx)
}

// ErrNotConnected is returned while there is no AMI connection: the
// dialer's own, so every backend words it alike.
var ErrNotConnected = dialer.ErrNotConnected

var (
	_ dialer.Backend    = (*Backend)(nil)
	_ dialer.Reconciler = (*Backend)(nil)
	_ dialer.Pinger     = (*Backend)(nil)
)
