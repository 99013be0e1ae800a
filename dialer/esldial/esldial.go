package esldial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/esl"
)

// Config configures a Backend.
type Config struct {
	// Addr and Password are FreeSWITCH's inbound event socket
	// (event_socket.conf.xml; configs/freeswitch listens on 127.0.0.1:8021).
	Addr, Password string
	// Exten, Dialplan and Context are where the answered call goes when
	// the campaign's answer names no exten/context: default `notify XML
	// fsivr`, the entry of configs/freeswitch/dialplan/fsivr.xml that hands
	// the call to ivrd.
	Exten, Dialplan, Context string
	// Flow is ivr_flow when the campaign's answer names none (default
	// "notify").
	Flow string
	// ResultVars are the channel variables the flow sets that are recorded
	// on the attempt (default notify_result).
	ResultVars []string
	// Orphans bounds the outcomes kept of calls nobody in this process
	// waits for (another dialer's, dead), which Reconcile answers from.
	// Default 10,000.
	Orphans int
	// Conn holds esl's connection settings.
	Conn   esl.Config
	Logger *slog.Logger
}

// Backend places calls over FreeSWITCH's inbound event socket. Run must be
// running; without a connection Originate returns dialer.ErrNotPlaced.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	client  *esl.Client
	calls   map[string]*attempt // by uuid (= attempt id)
	orphans map[string]dialer.Outcome
	order   []string // orphans, oldest first
	ready   chan struct{}
	once    sync.Once
}

// attempt is what the events said about one call of ours so far.
type attempt struct {
	answered time.Time
	done     chan dialer.Outcome // buffered 1, sent once
	sent     bool                // the bgapi reply came: the call may exist
}

// New returns a backend for cfg; call Run.
func New(cfg Config) *Backend {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Exten == "" {
		cfg.Exten = "notify"
	}
	if cfg.Dialplan == "" {
		cfg.Dialplan = "XML"
	}
	if cfg.Context == "" {
		cfg.Context = "fsivr"
	}
	if cfg.Flow == "" {
		cfg.Flow = "notify"
	}
	if cfg.ResultVars == nil {
		cfg.ResultVars = []string{"notify_result"}
	}
	if cfg.Orphans <= 0 {
		cfg.Orphans = 10000
	}
	return &Backend{cfg: cfg, log: cfg.Logger, calls: map[string]*attempt{},
		orphans: map[string]dialer.Outcome{}, ready: make(chan struct{})}
}

// Ready is closed once the first connection is up and subscribed.
func (b *Backend) Ready() <-chan struct{} { return b.ready }

// events are what the backend follows; BACKGROUND_JOB is esl.Client's own.
var events = []string{"CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"}

// Run keeps the event socket connected until ctx ends. After a reconnect
// every call placed before it is checked with uuid_exists: one that is gone
// ended while we were not listening, its outcome lost (Unknown, or Answered
// if its answer was seen).
func (b *Backend) Run(ctx context.Context) error {
	r := &esl.Reconnector{Addr: b.cfg.Addr, Password: b.cfg.Password, Events: events, Config: b.cfg.Conn}
	return r.Run(ctx, b.serve)
}

func (b *Backend) serve(ctx context.Context, c *esl.Client) {
	b.mu.Lock()
	var placed []string
	for id, a := range b.calls {
		if a.sent {
			placed = append(placed, id)
		}
	}
	b.client = c
	b.mu.Unlock()
	b.once.Do(func() { close(b.ready) })
	for _, id := range placed {
		if live, err := exists(ctx, c, id); err == nil && !live {
			b.mu.Lock()
			if a := b.calls[id]; a != nil {
				out := dialer.Outcome{Disposition: dialer.Unknown, Reason: "hangup not seen"}
				if !a.answered.IsZero() {
					out = dialer.Outcome{Disposition: dialer.Answered, Reason: "hangup not seen", Answered: a.answered}
				}
				b.finishLocked(id, a, out)
			}
			b.mu.Unlock()
		}
	}
	var buf []*esl.Message
	for {
		select {
		case <-ctx.Done():
			b.lost(c)
			return
		case <-c.Done():
			b.lost(c)
			return
		case <-c.Notify():
			buf = c.Drain(buf[:0])
			for _, m := range buf {
				b.feed(m)
			}
		}
	}
}

func (b *Backend) lost(c *esl.Client) {
	b.mu.Lock()
	if b.client == c {
		b.client = nil
	}
	b.mu.Unlock()
}

// feed takes one event; only our calls' (Unique-ID = an attempt id we
// placed, or a channel tagged fsivr_attempt) are looked at.
func (b *Backend) feed(m *esl.Message) {
	id := m.Get("Unique-ID")
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.calls[id]
	switch m.Name() {
	case "CHANNEL_ANSWER":
		if a != nil && a.answered.IsZero() {
			a.answered = eventTime(m)
		}
	case "CHANNEL_HANGUP_COMPLETE":
		if a == nil && m.Get("variable_fsivr_attempt") != id {
			return // not ours
		}
		out := b.hangupOutcome(m, a)
		if a == nil {
			b.orphanLocked(id, out)
			return
		}
		b.finishLocked(id, a, out)
	}
}

// hangupOutcome reads a CHANNEL_HANGUP_COMPLETE.
func (b *Backend) hangupOutcome(m *esl.Message, a *attempt) dialer.Outcome {
	cause := m.Get("Hangup-Cause")
	out := dialer.Outcome{Reason: cause, Cause: cause, Ended: eventTime(m)}
	if a != nil {
		out.Answered = a.answered
	}
	if out.Answered.IsZero() {
		if us, err := strconv.ParseInt(m.Get("variable_answer_epoch"), 10, 64); err == nil && us > 0 {
			out.Answered = time.Unix(us, 0)
		}
	}
	if !out.Answered.IsZero() {
		out.Disposition = dialer.Answered
	} else {
		out.Disposition = causeDisposition(cause)
	}
	for _, k := range b.cfg.ResultVars {
		if v := m.Get("variable_" + k); v != "" {
			if out.Vars == nil {
				out.Vars = map[string]string{}
			}
			out.Vars[k] = v
		}
	}
	return out
}

func (b *Backend) finishLocked(id string, a *attempt, out dialer.Outcome) {
	delete(b.calls, id)
	a.done <- out
}

func (b *Backend) orphanLocked(id string, out dialer.Outcome) {
	if _, ok := b.orphans[id]; !ok {
		b.order = append(b.order, id)
	}
	b.orphans[id] = out
	for len(b.order) > b.cfg.Orphans {
		delete(b.orphans, b.order[0])
		b.order = b.order[1:]
	}
}

// eventTime is the event's Event-Date-Timestamp (µs), or now.
func eventTime(m *esl.Message) time.Time {
	if us, err := strconv.ParseInt(m.Get("Event-Date-Timestamp"), 10, 64); err == nil && us > 0 {
		return time.UnixMicro(us)
	}
	return time.Now()
}

// Originate implements dialer.Backend.
func (b *Backend) Originate(ctx context.Context, c dialer.Call) (dialer.Outcome, error) {
	log := b.log.With("campaign", c.Campaign, "contact", c.ContactID, "attempt", c.AttemptID)
	cmd, err := b.Command(c)
	if err != nil {
		log.Error("esldial: refused to originate", "err", err)
		return dialer.Outcome{Disposition: dialer.Failed, Reason: "invalid value"}, nil
	}
	a := &attempt{done: make(chan dialer.Outcome, 1)}
	b.mu.Lock()
	client := b.client
	if client == nil {
		b.mu.Unlock()
		log.Warn("esldial: not placed: not connected", "addr", b.cfg.Addr)
		return dialer.Outcome{}, dialer.ErrNotConnected
	}
	if _, dup := b.calls[c.AttemptID]; dup {
		b.mu.Unlock()
		return dialer.Outcome{}, fmt.Errorf("esldial: attempt %s already in progress: %w", c.AttemptID, dialer.ErrNotPlaced)
	}
	// Registered before the bgapi: a failing originate's HANGUP_COMPLETE
	// may come before its BACKGROUND_JOB (captured).
	b.calls[c.AttemptID] = a
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		if b.calls[c.AttemptID] == a {
			delete(b.calls, c.AttemptID)
		}
		b.mu.Unlock()
	}()

	body, err := client.BgAPI(ctx, cmd)
	var re *esl.ReplyError
	switch {
	case errors.As(err, &re):
		cause := re.Reason()
		d := causeDisposition(cause)
		log.Info("esldial: originate failed", "cause", cause, "disposition", d)
		return dialer.Outcome{Disposition: d, Reason: cause, Cause: cause, Ended: time.Now()}, nil
	case err != nil:
		// The command may have been written: the call may ring.
		log.Warn("esldial: bgapi originate", "err", err)
		return dialer.Outcome{}, fmt.Errorf("esldial: originate: %w", err)
	case !strings.HasPrefix(body, "+OK"):
		log.Warn("esldial: unexpected originate result", "body", strings.TrimSpace(body))
	}
	b.mu.Lock()
	a.sent = true
	b.mu.Unlock()
	select {
	case out := <-a.done:
		log.Info("esldial: outcome", "disposition", out.Disposition, "cause", out.Cause, "vars", out.Vars)
		return out, nil
	case <-ctx.Done():
		return dialer.Outcome{}, ctx.Err()
	}
}

// Command is the originate for c (without "bgapi "), every value checked:
//
//	originate {origination_uuid=<id>,origination_caller_id_number=…,originate_timeout=…,
//	  ivr_flow=<flow>,fsivr_campaign=…,fsivr_attempt=…,…}<dial string> <exten> XML <context>
func (b *Backend) Command(c dialer.Call) (string, error) {
	if !isUUID(c.AttemptID) {
		return "", fmt.Errorf("%w: attempt id %q is not a UUID", dialer.ErrInvalidValue, c.AttemptID)
	}
	if c.Channel == "" {
		return "", fmt.Errorf("%w: no dial string for trunk %q", dialer.ErrInvalidValue, c.Trunk)
	}
	exten, context, dp := c.Answer.Exten, c.Answer.Context, b.cfg.Dialplan
	if exten == "" {
		exten = b.cfg.Exten
	}
	if context == "" {
		context = b.cfg.Context
	}
	flow := c.Answer.Flow
	if flow == "" {
		flow = b.cfg.Flow
	}
	for _, w := range []struct{ what, v string }{{"dial string", c.Channel}, {"exten", exten}, {"context", context}, {"dialplan", dp}} {
		if err := checkWord(w.what, w.v); err != nil {
			return "", err
		}
	}
	name, num := splitCallerID(c.CallerID)
	timeout := int((c.Timeout + time.Second - 1) / time.Second)
	if timeout < 1 {
		timeout = 30
	}
	vars := [][2]string{
		{"origination_uuid", c.AttemptID},
		{"origination_caller_id_number", num},
		{"origination_caller_id_name", name},
		{"originate_timeout", strconv.Itoa(timeout)},
		{"ivr_flow", flow},
		{"fsivr_campaign", c.Campaign},
		{"fsivr_contact", c.ContactID},
		{"fsivr_attempt", c.AttemptID},
	}
	keys := make([]string, 0, len(c.Vars))
	for k := range c.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := dialer.CheckName(k); err != nil {
			return "", err
		}
		vars = append(vars, [2]string{k, c.Vars[k]})
	}
	var sb strings.Builder
	sb.WriteString("originate {")
	n := 0
	for _, kv := range vars {
		if kv[1] == "" {
			continue
		}
		v, err := varValue(kv[0], kv[1])
		if err != nil {
			return "", err
		}
		if n > 0 {
			sb.WriteByte(',')
		}
		n++
		sb.WriteString(kv[0] + "=" + v)
	}
	sb.WriteString("}" + c.Channel + " " + exten + " " + dp + " " + context)
	return sb.String(), nil
}

// checkWord checks one space-separated argument of the originate line.
func checkWord(what, v string) error {
	if v == "" {
		return fmt.Errorf("%w: empty %s", dialer.ErrInvalidValue, what)
	}
	if err := dialer.CheckValue(v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if strings.ContainsAny(v, " \t{}[]'\"") {
		return fmt.Errorf("%w: %s %q contains a blank, brace, bracket or quote", dialer.ErrInvalidValue, what, v)
	}
	return nil
}

// varValue checks a {var=value} value: no CR/LF or control characters,
// no comma (the separator), no braces or brackets (they would end or nest
// the block), no quote; one with blanks is single-quoted as FreeSWITCH's
// originate parser expects.
func varValue(k, v string) (string, error) {
	if err := dialer.CheckValue(v); err != nil {
		return "", fmt.Errorf("variable %s: %w", k, err)
	}
	if strings.ContainsAny(v, "{}[]'\"^") {
		return "", fmt.Errorf("%w: variable %s %q contains a brace, bracket, quote or ^", dialer.ErrInvalidValue, k, v)
	}
	if strings.ContainsAny(v, " \t") {
		return "'" + v + "'", nil
	}
	return v, nil
}

// splitCallerID takes `"name" <number>`, `name <number>` or a number.
func splitCallerID(s string) (name, number string) {
	s = strings.TrimSpace(s)
	lt := strings.LastIndexByte(s, '<')
	if lt < 0 || !strings.HasSuffix(s, ">") {
		return "", s
	}
	number = s[lt+1 : len(s)-1]
	name = strings.Trim(strings.TrimSpace(s[:lt]), `"`)
	return name, number
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
				return false
			}
		}
	}
	return true
}

func exists(ctx context.Context, c *esl.Client, id string) (bool, error) {
	body, err := c.API(ctx, "uuid_exists "+id)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(body) == "true", nil
}

// Reconcile implements dialer.Reconciler: a call whose hangup this process
// saw (another dialer's orphan) ended so; one FreeSWITCH still has
// (uuid_exists on the origination_uuid = attempt id) is live; otherwise
// FreeSWITCH keeps no trace, and the attempt, which may have rung, is
// Unknown: never dialed twice.
func (b *Backend) Reconcile(ctx context.Context, c dialer.Call) (dialer.State, dialer.Outcome, error) {
	b.mu.Lock()
	out, orphan := b.orphans[c.AttemptID]
	_, ours := b.calls[c.AttemptID]
	client := b.client
	b.mu.Unlock()
	switch {
	case orphan:
		return dialer.StateEnded, out, nil
	case ours:
		return dialer.StateLive, dialer.Outcome{}, nil
	case client == nil:
		return dialer.StateUnknown, dialer.Outcome{}, fmt.Errorf("esldial: not connected: %w", dialer.ErrNotPlaced)
	}
	live, err := exists(ctx, client, c.AttemptID)
	if err != nil {
		return dialer.StateUnknown, dialer.Outcome{}, fmt.Errorf("esldial: reconcile: %w", err)
	}
	if live {
		return dialer.StateLive, dialer.Outcome{}, nil
	}
	// The hangup may have arrived while we asked.
	b.mu.Lock()
	out, orphan = b.orphans[c.AttemptID]
	b.mu.Unlock()
	if orphan {
		return dialer.StateEnded, out, nil
	}
	return dialer.StateUnknown, dialer.Outcome{}, nil
}

// Ping implements dialer.Pinger (api status).
func (b *Backend) Ping(ctx context.Context) error {
	b.mu.Lock()
	client := b.client
	b.mu.Unlock()
	if client == nil {
		return errors.New("esldial: not connected")
	}
	_, err := client.API(ctx, "status")
	return err
}

var (
	_ dialer.Backend    = (*Backend)(nil)
	_ dialer.Reconciler = (*Backend)(nil)
	_ dialer.Pinger     = (*Backend)(nil)
)
