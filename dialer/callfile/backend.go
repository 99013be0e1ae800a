package callfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/dialer"
)

// Config configures a Backend.
type Config struct {
	// SpoolDir is Asterisk's astspooldir (/var/spool/asterisk). A remote
	// Asterisk needs this directory shared (NFS and the like) with the
	// same path semantics: the dialer renames into its outgoing/.
	SpoolDir string
	// TempDir is where files are written before the rename (default
	// SpoolDir/tmp); it must be on the spool's filesystem.
	TempDir string
	// Owner and Mode are applied to each file (nil: ours; 0: 0o640).
	Owner *Owner
	Mode  fs.FileMode
	// MaxRetries and RetryTime are Asterisk's own retries. The default, 0,
	// leaves retries to the dialer's policy (Campaign.Retries); a campaign
	// that opts into Asterisk's gets one dialer attempt per file whatever
	// pbx_spool does inside it.
	MaxRetries int
	RetryTime  time.Duration
	// Account is the CDR account code (Account:).
	Account string
	// AlwaysDelete writes `AlwaysDelete: yes`.
	AlwaysDelete bool
	// MaxSpool caps the files in outgoing/ (waiting + being called, this
	// dialer's and anyone else's): a file is moved in only below it.
	// 0 = no cap beyond the engine's ports.
	MaxSpool int
	// MoveInterval paces the renames into outgoing/ (at most one per
	// interval) so pbx_spool is never handed a burst. Default 50ms.
	MoveInterval time.Duration
	// Poll is how often outgoing_done/ is rescanned besides the fsnotify
	// watch (which sees nothing on a shared NFS directory). Default 1s.
	Poll time.Duration
	// IDVariable is the Set variable carrying the attempt id, which the
	// dialplan's `failed` extension reports back:
	//   exten => failed,n,UserEvent(DialerFailed,Reason: ${REASON},CallID: ${CALLID})
	// Default "CALLID" (the captured dialplan).
	IDVariable string
	// Schedule, when set, gives each call its start time (a future mtime);
	// nil or a zero time = now.
	Schedule func(dialer.Call) time.Time
	// Grace bounds the wait for outgoing_done/ beyond the longest the file
	// can take (every attempt's WaitTime and RetryTime); then the outcome
	// is Unknown. Default 5 min.
	Grace time.Duration
	// AMI, when set, is an Asterisk manager session used for the finer
	// disposition of failed calls (the failed extension's UserEvent and,
	// with manager channelvars including IDVariable, the hangup cause).
	AMI *AMIConfig
	// EventGrace is how long an Expired file waits for the failed
	// extension's UserEvent, which reaches the manager socket after
	// pbx_spool has archived the file as often as before. Default 1s.
	EventGrace time.Duration
	Logger     *slog.Logger
}

// AMIConfig is the optional manager session of a Backend.
type AMIConfig struct {
	Addr, Username, Secret string
	Config                 ami.Config // connection settings; its Logger defaults to the Backend's
}

// Backend places calls by writing Asterisk call files (seed 004). It
// implements dialer.Backend, dialer.Reconciler and dialer.Pinger.
type Backend struct {
	cfg   Config
	log   *slog.Logger
	spool *Spool

	mu      sync.Mutex
	running bool
	waiting map[string]chan Status // by file name
	detail  map[string]*amiDetail  // by attempt id, while waiting
	amiUp   bool
	ready   chan struct{}
	once    sync.Once

	moveMu   sync.Mutex
	nextMove time.Time
}

// amiDetail is what the manager session saw of an attempt's calls.
type amiDetail struct {
	reason string // the failed extension's REASON of the last attempt
	cause  string // the last hangup cause of a channel carrying the id
}

// New checks cfg and the spool (the temp dir must be on its filesystem:
// ErrCrossDevice) and returns a backend; call Run.
func New(cfg Config) (*Backend, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MoveInterval <= 0 {
		cfg.MoveInterval = 50 * time.Millisecond
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.IDVariable == "" {
		cfg.IDVariable = "CALLID"
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Minute
	}
	if cfg.EventGrace <= 0 {
		cfg.EventGrace = time.Second
	}
	if err := dialer.CheckName(cfg.IDVariable); err != nil {
		return nil, fmt.Errorf("callfile: IDVariable: %w", err)
	}
	sp, err := OpenSpool(cfg.SpoolDir, cfg.TempDir, cfg.Owner, cfg.Mode)
	if err != nil {
		return nil, err
	}
	return &Backend{cfg: cfg, log: cfg.Logger, spool: sp, waiting: map[string]chan Status{},
		detail: map[string]*amiDetail{}, ready: make(chan struct{})}, nil
}

// Spool is the backend's spool writer.
func (b *Backend) Spool() *Spool { return b.spool }

// Ready is closed once Run watches outgoing_done/ (and, with AMI
// configured, the first manager session is up).
func (b *Backend) Ready() <-chan struct{} { return b.ready }

// fileName is the call file of an attempt: named by the attempt id, used
// once (pbx_spool drops a new file whose name it has just processed).
func fileName(attemptID string) string { return attemptID + ".call" }

// Build is the call file for c, validated (ErrInvalid).
func (b *Backend) Build(c dialer.Call) ([]byte, error) {
	name, num, err := ParseCallerID(c.CallerID)
	if err != nil {
		return nil, err
	}
	f := File{
		Channel: c.Channel, CallerIDName: name, CallerIDNumber: num,
		MaxRetries: b.cfg.MaxRetries, RetryTime: b.cfg.RetryTime, WaitTime: c.Timeout, Account: b.cfg.Account,
		Context: c.Answer.Context, Extension: c.Answer.Exten, Priority: c.Answer.Priority,
		Application: c.Answer.Application, Data: c.Answer.Data,
		AlwaysDelete: b.cfg.AlwaysDelete, Archive: true,
		Set: [][2]string{{b.cfg.IDVariable, c.AttemptID}, {"FSIVR_CAMPAIGN", c.Campaign}, {"FSIVR_CONTACT", c.ContactID}},
	}
	names := make([]string, 0, len(c.Vars))
	for k := range c.Vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		f.Set = append(f.Set, [2]string{k, c.Vars[k]})
	}
	return f.Encode()
}

// Run watches outgoing_done/ (fsnotify plus a rescan every Poll) and runs
// the AMI session when configured, until ctx ends.
func (b *Backend) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("callfile: %w", err)
	}
	defer w.Close()
	if err := w.Add(filepath.Join(b.spool.Dir, "outgoing_done")); err != nil {
		return fmt.Errorf("callfile: watch outgoing_done: %w", err)
	}
	b.mu.Lock()
	b.running = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.running = false
		b.mu.Unlock()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	if b.cfg.AMI != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.runAMI(ctx)
		}()
	} else {
		b.once.Do(func() { close(b.ready) })
	}
	tick := time.NewTicker(b.cfg.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("callfile: fsnotify watcher closed")
			}
			if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Chmod) != 0 {
				b.check(filepath.Base(ev.Name))
			}
		case err, ok := <-w.Errors:
			if ok {
				// An overflow loses events, never files: the rescan finds them.
				b.log.Warn("callfile: fsnotify", "err", err)
				b.scan()
			}
		case <-tick.C:
			b.scan()
		}
	}
}

// scan checks every file someone waits for.
func (b *Backend) scan() {
	b.mu.Lock()
	names := make([]string, 0, len(b.waiting))
	for n := range b.waiting {
		names = append(names, n)
	}
	b.mu.Unlock()
	for _, n := range names {
		b.check(n)
	}
}

// check delivers the Status of outgoing_done/name to its waiter, if the
// file is complete (pbx_spool may still be writing it).
func (b *Backend) check(name string) {
	b.mu.Lock()
	ch, ok := b.waiting[name]
	b.mu.Unlock()
	if !ok {
		return
	}
	data, err := os.ReadFile(b.spool.Done(name))
	if err != nil {
		return
	}
	st, _, err := ReadStatus(data)
	if err != nil {
		return // not complete yet: the next write event or rescan
	}
	b.mu.Lock()
	if b.waiting[name] == ch {
		delete(b.waiting, name)
		ch <- st // buffered 1
	}
	b.mu.Unlock()
}

// moveIn waits for the pacing slot and for room in outgoing/, then runs
// submit, all under one lock so that no two files are counted against the
// same free place.
func (b *Backend) moveIn(ctx context.Context, submit func() error) (placed bool, err error) {
	b.moveMu.Lock()
	defer b.moveMu.Unlock()
	for {
		wait := time.Until(b.nextMove)
		if b.cfg.MaxSpool > 0 && wait <= 0 {
			n, err := b.spool.Pending()
			if err != nil {
				return false, err
			}
			if n >= b.cfg.MaxSpool {
				wait = b.cfg.MoveInterval
			}
		}
		if wait <= 0 {
			b.nextMove = time.Now().Add(b.cfg.MoveInterval)
			return true, submit()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// Originate implements dialer.Backend.
func (b *Backend) Originate(ctx context.Context, c dialer.Call) (dialer.Outcome, error) {
	var at time.Time
	if b.cfg.Schedule != nil {
		at = b.cfg.Schedule(c)
	}
	return b.OriginateAt(ctx, c, at)
}

// OriginateAt places c to start at at (the file's mtime; zero = now) and
// waits for its Status in outgoing_done/.
func (b *Backend) OriginateAt(ctx context.Context, c dialer.Call, at time.Time) (dialer.Outcome, error) {
	log := b.log.With("campaign", c.Campaign, "contact", c.ContactID, "attempt", c.AttemptID)
	content, err := b.Build(c)
	if err != nil {
		log.Error("callfile: refused to write the call file", "err", err)
		return dialer.Outcome{Disposition: dialer.Failed, Reason: "invalid value"}, nil
	}
	name := fileName(c.AttemptID)
	ch := make(chan Status, 1)
	b.mu.Lock()
	if !b.running {
		b.mu.Unlock()
		return dialer.Outcome{}, fmt.Errorf("callfile: not running: %w", dialer.ErrNotPlaced)
	}
	if _, dup := b.waiting[name]; dup {
		b.mu.Unlock()
		return dialer.Outcome{}, fmt.Errorf("callfile: attempt %s already in progress: %w", c.AttemptID, dialer.ErrNotPlaced)
	}
	b.waiting[name] = ch
	b.detail[c.AttemptID] = &amiDetail{}
	b.mu.Unlock()
	forget := func() {
		b.mu.Lock()
		if b.waiting[name] == ch {
			delete(b.waiting, name)
		}
		delete(b.detail, c.AttemptID)
		b.mu.Unlock()
	}
	defer forget()

	if submitted, err := b.moveIn(ctx, func() error { return b.spool.Submit(name, content, at) }); err != nil {
		if submitted {
			log.Error("callfile: submit", "err", err)
		}
		// Submit leaves nothing in outgoing/ when it fails.
		return dialer.Outcome{}, fmt.Errorf("callfile: %w: %w", dialer.ErrNotPlaced, err)
	}
	log.Info("callfile: moved into outgoing", "file", name, "at", at)

	start := time.Now()
	if at.After(start) {
		start = at
	}
	deadline := time.NewTimer(time.Until(start.Add(b.longest(c) + b.cfg.Grace)))
	defer deadline.Stop()
	select {
	case st := <-ch:
		if st == Expired {
			b.awaitReason(ctx, c.AttemptID)
		}
		out := b.outcome(c.AttemptID, st)
		log.Info("callfile: outcome", "status", st, "disposition", out.Disposition, "cause", out.Cause)
		return out, nil
	case <-deadline.C:
		log.Error("callfile: no Status in outgoing_done in time", "file", name)
		return dialer.Outcome{Disposition: dialer.Unknown, Reason: "no status"}, nil
	case <-ctx.Done():
		return dialer.Outcome{}, ctx.Err()
	}
}

// awaitReason waits up to EventGrace for the failed extension's UserEvent
// of attempt id, when a manager session is up.
func (b *Backend) awaitReason(ctx context.Context, id string) {
	end := time.Now().Add(b.cfg.EventGrace)
	for time.Now().Before(end) && ctx.Err() == nil {
		b.mu.Lock()
		up, d := b.amiUp, b.detail[id]
		got := d != nil && d.reason != ""
		b.mu.Unlock()
		if !up || got {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// longest is the most time pbx_spool can take over the file: every
// attempt's ring and the waits between them.
func (b *Backend) longest(c dialer.Call) time.Duration {
	ring := c.Timeout
	if ring <= 0 {
		ring = 45 * time.Second
	}
	retry := b.cfg.RetryTime
	if retry <= 0 {
		retry = 300 * time.Second
	}
	n := time.Duration(b.cfg.MaxRetries)
	return (n+1)*ring + n*retry
}

// outcome maps a Status (and what AMI saw) to the dialer's disposition.
func (b *Backend) outcome(id string, st Status) dialer.Outcome {
	now := time.Now()
	out := dialer.Outcome{Reason: string(st), Ended: now}
	b.mu.Lock()
	d := b.detail[id]
	var det amiDetail
	if d != nil {
		det = *d
	}
	b.mu.Unlock()
	out.Cause = det.cause
	switch st {
	case Completed:
		out.Disposition, out.Answered = dialer.Answered, now
	case Expired:
		out.Disposition = expiredDisposition(det.reason, det.cause)
		if det.reason != "" {
			out.Reason = string(st) + "/" + det.reason
		}
	default:
		out.Disposition = dialer.Failed
	}
	return out
}

// expiredDisposition refines Expired (every failure: busy, no answer, no
// such extension) with the failed extension's REASON (the AMI Originate
// reason codes: 0 failed/no such extension/rejected, 1 hung up, 3 no
// answer, 5 busy, 8 congestion) and the hangup cause when known.
func expiredDisposition(reason, cause string) dialer.Disposition {
	switch cause {
	case "21":
		return dialer.Rejected
	case "1", "3", "28":
		return dialer.InvalidNumber
	case "42":
		return dialer.Throttled
	}
	switch reason {
	case "5":
		return dialer.Busy
	case "3":
		return dialer.NoAnswer
	case "8":
		return dialer.Congestion
	}
	// Reason 0 without a cause, or no AMI: a failure that may be temporary.
	return dialer.Failed
}

// Reconcile implements dialer.Reconciler from the spool itself: a file in
// outgoing_done/ says how the attempt ended, one in outgoing/ is live, and
// no file at all means the rename never happened (files are always
// archived), so the attempt never started. outgoing_done/ must therefore
// be kept longer than a dialer's lease.
func (b *Backend) Reconcile(_ context.Context, c dialer.Call) (dialer.State, dialer.Outcome, error) {
	name := fileName(c.AttemptID)
	if data, err := os.ReadFile(b.spool.Done(name)); err == nil {
		st, _, err := ReadStatus(data)
		if err != nil {
			return dialer.StateLive, dialer.Outcome{}, nil // being archived
		}
		return dialer.StateEnded, b.outcome(c.AttemptID, st), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return dialer.StateUnknown, dialer.Outcome{}, fmt.Errorf("callfile: reconcile: %w", err)
	}
	if _, err := os.Lstat(b.spool.Outgoing(name)); err == nil {
		return dialer.StateLive, dialer.Outcome{}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return dialer.StateUnknown, dialer.Outcome{}, fmt.Errorf("callfile: reconcile: %w", err)
	}
	// Archived between the two looks?
	if _, err := os.Lstat(b.spool.Done(name)); err == nil {
		return dialer.StateLive, dialer.Outcome{}, nil
	}
	b.spool.removeTemps(name)
	return dialer.StateNeverStarted, dialer.Outcome{}, nil
}

// Ping implements dialer.Pinger: the spool is writable (and the manager
// session up, when configured).
func (b *Backend) Ping(context.Context) error {
	f, err := os.CreateTemp(b.spool.Temp, ".ping.*.tmp")
	if err != nil {
		return fmt.Errorf("callfile: spool not writable: %w", err)
	}
	_ = f.Close()
	_ = os.Remove(f.Name())
	b.mu.Lock()
	up := b.amiUp
	b.mu.Unlock()
	if b.cfg.AMI != nil && !up {
		return errors.New("callfile: AMI session not connected")
	}
	return nil
}

// amiEvents are the events the finer disposition needs.
var amiEvents = []string{"UserEvent", "Hangup"}

func (b *Backend) runAMI(ctx context.Context) {
	r := &ami.Reconnector{Addr: b.cfg.AMI.Addr, Username: b.cfg.AMI.Username, Secret: b.cfg.AMI.Secret,
		Events: amiEvents, Filters: ami.IncludeEvents(amiEvents...), Config: b.cfg.AMI.Config}
	if r.Logger == nil {
		r.Logger = b.log
	}
	_ = r.Run(ctx, func(ctx context.Context, c *ami.Client, events *ami.Subscription) {
		b.mu.Lock()
		b.amiUp = true
		b.mu.Unlock()
		b.once.Do(func() { close(b.ready) })
		defer func() {
			b.mu.Lock()
			b.amiUp = false
			b.mu.Unlock()
		}()
		var buf []*ami.Message
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.Done():
				return
			case <-events.Notify():
				buf = events.Drain(buf[:0])
				for _, m := range buf {
					b.feed(m)
				}
			}
		}
	})
}

// feed records what an event says about an attempt we wait for.
func (b *Backend) feed(m *ami.Message) {
	switch m.Name() {
	case "UserEvent":
		if !strings.EqualFold(m.Get("UserEvent"), "DialerFailed") {
			return
		}
		id := m.Get("CallID")
		b.mu.Lock()
		if d := b.detail[id]; d != nil {
			d.reason = strings.TrimSpace(m.Get("Reason"))
		}
		b.mu.Unlock()
	case "Hangup":
		id, ok := m.Var(b.cfg.IDVariable)
		if !ok {
			return
		}
		cause := m.Get("Cause")
		b.mu.Lock()
		// The Local ;1 leg reports 0 for busy/congestion (the real cause is
		// on ;2): keep the informative one.
		if d := b.detail[id]; d != nil && cause != "" && cause != "0" && cause != "16" {
			d.cause = cause
		}
		b.mu.Unlock()
	}
}

var (
	_ dialer.Backend    = (*Backend)(nil)
	_ dialer.Reconciler = (*Backend)(nil)
	_ dialer.Pinger     = (*Backend)(nil)
)
