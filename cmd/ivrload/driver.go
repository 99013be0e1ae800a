package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsivr/fsivr/crm"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

// target is the ivrd under load.
type target struct {
	addr       string
	pid        int
	metricsURL string
	// inproc, when set, reads GC pauses and mailbox depths in this process.
	inproc *inProcess
}

// inProcess is the ivr engine running inside ivrload.
type inProcess struct {
	target
	server   *ivrtest.Server
	crm      interface{ Close() }
	maxDepth atomic.Int64 // deepest event mailbox of any finished call
}

func startInProcess(ctx context.Context, crmLatency time.Duration) (*inProcess, error) {
	fl, err := flows.Builtin()
	if err != nil {
		return nil, err
	}
	srv := newCRM(crmLatency)
	client, err := crm.New(crm.Config{BaseURL: srv.URL, Timeout: 1500 * time.Millisecond, CacheSize: 10000, CacheTTL: 5 * time.Minute},
		&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}, nil)
	if err != nil {
		srv.Close()
		return nil, err
	}
	sales := fl["sales"]
	zone := sales.Nodes["office_hours"].Time.Zone
	now := func() time.Time { // a Wednesday at 10:00 there: the main menu is open
		t := time.Now().In(zone)
		base := time.Date(2026, 11, 25, 10, 0, 0, 0, zone)
		return base.Add(time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond()))
	}
	eng := ivr.NewEngine(ivr.Config{
		Flows: ivrtest.Flows(fl), DefaultFlow: "sales",
		Prefetchers: map[string]ivr.Prefetcher{"crm": client},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)), Now: now,
	})
	ip := &inProcess{crm: srv}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	ip.server = ivrtest.NewServer(eng, ivr.ServeOptions{DrainTimeout: 5 * time.Second, Logger: discard,
		ConnDone: func(st esl.Stats) {
			if d := int64(st.MaxQueueDepth); d > ip.maxDepth.Load() {
				ip.maxDepth.Store(d) // racy max is fine for a report
			}
		}})
	ip.target = target{addr: ip.server.Addr, pid: os.Getpid(), inproc: ip}
	return ip, nil
}

func (ip *inProcess) stop() {
	_ = ip.server.Close()
	ip.crm.Close()
}

// callState is one fake call as the driver sees it. Its fields other than
// call and ready are touched only by the fake call's goroutine (Observer).
type callState struct {
	kind  string
	t0    time.Time
	call  atomic.Pointer[esltest.Call]
	ready chan struct{}
	// cut is set when the load tool hangs the call up itself at the end
	// of the run: a call still up then (a caller in a queue waits for
	// ever) is no protocol error.
	cut         atomic.Bool
	transferred atomic.Bool

	gotFirst   bool
	prevWaited bool
	inMenu     bool
	lastApp    string
}

type driver struct {
	o   options
	m   mix
	tgt target

	lat   latencies // CHANNEL_EXECUTE_COMPLETE -> next sendmsg
	setup latencies // TCP connect -> first sendmsg

	started, setups, completed, failed, dialFailed, noMenu atomic.Int64
	cutByTool                                              atomic.Int64
	lateWrites                                             atomic.Int64
	live, peak, inMenu                                     atomic.Int64

	mu      sync.Mutex
	errs    map[string]int
	byKind  map[string]int
	calls   []*esltest.Call // hold mode: to hang them up
	keepAll bool
	up      map[*callState]struct{} // calls up now, for the cut at the end
	// callDone, when set, is called once per call after it was counted
	// (the benchmark's bound on calls in flight).
	callDone func()
}

func newDriver(o options, m mix, tgt target) *driver {
	return &driver{o: o, m: m, tgt: tgt, errs: map[string]int{}, byKind: map[string]int{}, up: map[*callState]struct{}{}}
}

// addrPort matches the ip:port pairs in socket errors, which would make
// every call's error a message of its own.
var addrPort = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}:\d+\b`)

// noteErr counts an error by its message with addresses blanked, so the
// report lists kinds of errors, not one line per connection.
func (d *driver) noteErr(msg string) {
	msg = addrPort.ReplaceAllString(msg, "<addr>")
	d.mu.Lock()
	d.errs[msg]++
	d.mu.Unlock()
}

// waitedApps are the applications after which ivrd sends nothing until
// their completion: the first sendmsg after one is its answer, so its
// SinceLastComplete is the event -> next command latency.
func waitedApp(app string) bool {
	return app == "playback" || app == "play_and_get_digits" || app == "bridge"
}

func (d *driver) observe(cs *callState, r esltest.Record) {
	if r.Verb != "sendmsg" {
		return
	}
	if !cs.gotFirst {
		cs.gotFirst = true
		d.setups.Add(1)
		d.setup.add(r.At.Sub(cs.t0))
	}
	if cs.prevWaited && r.SinceLastComplete > 0 {
		d.lat.add(r.SinceLastComplete)
	}
	cs.prevWaited = waitedApp(r.App)
	if r.App != "" {
		cs.lastApp = r.App
	}
	if r.App == "play_and_get_digits" && !cs.inMenu {
		cs.inMenu = true
		d.inMenu.Add(1)
	}
	// After any transfer the call is in the dialplan (a queue, a
	// voicemail): FreeSWITCH would keep it, so the caller hangs up -talk
	// later, whatever the kind planned (a CRM caller whose lookup was late
	// goes to the sales queue too).
	if r.App == "transfer" && cs.transferred.CompareAndSwap(false, true) {
		time.AfterFunc(d.o.talk, func() {
			<-cs.ready
			cs.call.Load().Hangup("NORMAL_CLEARING")
		})
	}
}

func (d *driver) startCall(ctx context.Context, kind string, s esltest.Script) {
	cs := &callState{kind: kind, ready: make(chan struct{})}
	s.Observer = func(r esltest.Record) { d.observe(cs, r) }
	if d.o.execDelay != 0 {
		s.ExecuteDelay = d.o.execDelay
	}
	d.started.Add(1)
	cs.t0 = time.Now()
	c, err := esltest.StartOutbound(ctx, d.tgt.addr, s)
	if err != nil {
		d.dialFailed.Add(1)
		d.noteErr(err.Error())
		close(cs.ready)
		if d.callDone != nil {
			d.callDone()
		}
		return
	}
	cs.call.Store(c)
	close(cs.ready)
	d.mu.Lock()
	d.up[cs] = struct{}{}
	d.mu.Unlock()
	if n := d.live.Add(1); n > d.peak.Load() {
		d.peak.Store(n) // approximate under races; one sample per call start
	}
	if d.keepAll {
		d.mu.Lock()
		d.calls = append(d.calls, c)
		d.mu.Unlock()
	}
	go func() {
		<-c.Done()
		d.live.Add(-1)
		d.mu.Lock()
		d.byKind[kind]++
		delete(d.up, cs)
		d.mu.Unlock()
		switch {
		case cs.cut.Load():
			d.cutByTool.Add(1)
		case c.Err() != nil && c.HangupCause() != "" && isLateWrite(c.Err()):
			// The fake wrote its disconnect notice after "+OK bye" and ivrd
			// had already closed: FreeSWITCH does the same and ignores it.
			d.completed.Add(1)
			d.lateWrites.Add(1)
		case c.Err() != nil:
			d.failed.Add(1)
			d.noteErr(c.Err().Error())
		case c.HangupCause() == "" && !errorsIsCut(ctx):
			d.failed.Add(1)
			d.noteErr("ivrd closed the socket before the call hung up (last app " + cs.lastApp + ")")
		default:
			d.completed.Add(1)
		}
		if !cs.inMenu && kind != "hold" {
			d.noMenu.Add(1)
		}
		if d.callDone != nil {
			d.callDone()
		}
	}()
}

// cutGrace bounds how long the calls the tool hangs up at the end take to
// end.
const cutGrace = 5 * time.Second

// cutLive hangs up every call still up when the run's bound is reached (the
// load tool's own bound, not a failure of ivrd) and waits for them, bounded.
func (d *driver) cutLive() {
	d.mu.Lock()
	var cut []*callState
	for cs := range d.up {
		cut = append(cut, cs)
	}
	d.mu.Unlock()
	for _, cs := range cut {
		cs.cut.Store(true)
		go cs.call.Load().Hangup("NORMAL_CLEARING")
	}
	deadline := time.Now().Add(cutGrace)
	for d.live.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func errorsIsCut(ctx context.Context) bool { return ctx.Err() != nil }

func isLateWrite(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// sample is ivrd's state at one moment.
type sample struct {
	proc    procSample
	metrics map[string]float64
}

func (d *driver) sample(ctx context.Context) sample {
	var s sample
	if d.tgt.pid > 0 {
		p, err := readProc(d.tgt.pid)
		if err != nil {
			d.noteErr("proc: " + err.Error())
		}
		s.proc = p
	}
	switch {
	case d.tgt.inproc != nil:
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.metrics = map[string]float64{
			"go_memstats_heap_inuse_bytes": float64(ms.HeapInuse),
			"go_goroutines":                float64(runtime.NumGoroutine()),
			"go_gc_duration_seconds_count": float64(ms.NumGC),
		}
	case d.tgt.metricsURL != "":
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		m, err := scrape(sctx, d.tgt.metricsURL, "go_gc_duration_seconds", "go_goroutines", "go_memstats_heap_inuse_bytes",
			"fsivr_esl_errors_total", "fsivr_esl_events_total", "fsivr_event_reaction_seconds", "fsivr_calls_active", "fsivr_build_info", "fsivr_start_time_seconds", "process_start_time_seconds")
		if err == nil {
			s.metrics = m
		}
	}
	return s
}

// gcPauses reports ivrd's GC pause quantiles: from /metrics (the last 256
// collections, as the Go collector exports them) or from this process.
func (d *driver) gcPauses(ctx context.Context, last sample) map[string]float64 {
	if d.tgt.inproc != nil {
		var st debug.GCStats
		st.PauseQuantiles = make([]time.Duration, 5)
		debug.ReadGCStats(&st)
		out := map[string]float64{}
		for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
			out[q] = float64(st.PauseQuantiles[i]) / float64(time.Microsecond)
		}
		return out
	}
	out := map[string]float64{}
	for _, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		if v, ok := last.metrics[`go_gc_duration_seconds{quantile="`+q+`"}`]; ok {
			out[q] = v * 1e6
		}
	}
	_ = ctx
	return out
}

func (d *driver) progress(phase string, t0 time.Time) {
	fmt.Fprintf(os.Stderr, "[%5.1fs] %-7s started %d  live %d  in-menu %d  done %d  failed %d  setups %d\n",
		time.Since(t0).Seconds(), phase, d.started.Load(), d.live.Load(), d.inMenu.Load(),
		d.completed.Load(), d.failed.Load()+d.dialFailed.Load(), d.setups.Load())
}

// runMix lets calls arrive at -rate for -duration (at most -calls in flight;
// arrivals beyond that are skipped and counted), then waits for them.
func (d *driver) runMix(ctx context.Context) (report, error) {
	before := d.sample(ctx)
	callCtx, cancel := context.WithTimeout(ctx, d.o.duration+d.o.grace+10*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var launched, skipped int64
	var peakRSS int64
	nextProgress := t0.Add(time.Second)
	for now := t0; now.Sub(t0) < d.o.duration && ctx.Err() == nil; now = <-tick.C {
		due := int64(now.Sub(t0).Seconds() * d.o.rate)
		for ; launched < due; launched++ {
			if d.live.Load() >= int64(d.o.calls) {
				skipped++
				continue
			}
			k := d.m.pick(rng)
			go d.startCall(callCtx, k, script(k, rng, d.o.playback, d.o.talk))
		}
		if now.After(nextProgress) {
			nextProgress = nextProgress.Add(time.Second)
			d.progress("arrive", t0)
			if p := d.sample(ctx).proc.RSS; p > peakRSS {
				peakRSS = p
			}
		}
	}
	arrivalEnd := time.Now()
	setupsInWindow := d.setups.Load()
	mid := d.sample(ctx)
	graceEnd := time.After(d.o.grace)
	prog := time.NewTicker(time.Second)
	defer prog.Stop()
wait:
	for d.live.Load() > 0 || d.started.Load() > d.completed.Load()+d.failed.Load()+d.dialFailed.Load() {
		select {
		case <-prog.C:
			d.progress("drain", t0)
		case <-graceEnd:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	d.cutLive()
	cancel()
	after := d.sample(context.Background())
	rep := d.baseReport("mix", before, after)
	rep.ArrivalSeconds = arrivalEnd.Sub(t0).Seconds()
	rep.ArrivalsSkipped = skipped
	rep.SetupsPerSecond = float64(setupsInWindow) / rep.ArrivalSeconds
	rep.PeakRSSBytes = max(peakRSS, mid.proc.RSS)
	rep.GCPauseUS = d.gcPauses(ctx, after)
	if rep.Completed > 0 && after.proc.CPU > 0 {
		rep.CPUPerCallMS = float64(after.proc.CPU-before.proc.CPU) / float64(time.Millisecond) / float64(rep.Completed)
	}
	rep.CPUSeconds = (after.proc.CPU - before.proc.CPU).Seconds()
	rep.perEvent(before, after)
	rep.reactions(before, after)
	return rep, nil
}

// hold puts -calls calls in the main menu (silent, with long prompts),
// keeps them there for -duration and measures what they cost, then hangs
// them all up.
func (d *driver) hold(ctx context.Context) (report, error) {
	d.keepAll = true
	ramp := time.Duration(float64(d.o.calls) / d.o.rate * float64(time.Second))
	prompt := d.o.holdPrompt
	if prompt <= 0 {
		prompt = max(ramp+2*time.Second, (ramp+d.o.duration)/8+time.Second)
	}
	before := d.sample(ctx)
	limit := ramp + 2*prompt + d.o.duration + d.o.grace + 30*time.Second
	callCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var launched int64
	nextProgress := t0.Add(time.Second)
	for now := t0; launched < int64(d.o.calls) && ctx.Err() == nil; now = <-tick.C {
		due := min(int64(now.Sub(t0).Seconds()*d.o.rate), int64(d.o.calls))
		for ; launched < due; launched++ {
			s := esltest.Script{
				CallerIDNumber:    fmt.Sprint(crmCallerBase + rng.IntN(crmCallers)),
				DestinationNumber: "5000", PlaybackDuration: prompt,
			}
			go d.startCall(callCtx, "hold", s)
		}
		if now.After(nextProgress) {
			nextProgress = nextProgress.Add(time.Second)
			d.progress("ramp", t0)
		}
	}
	arrivalEnd := time.Now()
	setupsInWindow := d.setups.Load()
	// Wait until every call waits in the menu.
	deadline := time.After(ramp + 2*prompt + 10*time.Second)
	prog := time.NewTicker(time.Second)
	defer prog.Stop()
reach:
	for d.inMenu.Load() < d.started.Load()-d.dialFailed.Load() {
		select {
		case <-prog.C:
			d.progress("to-menu", t0)
		case <-deadline:
			fmt.Fprintln(os.Stderr, "not every call reached the menu in time; measuring what is there")
			break reach
		case <-ctx.Done():
			break reach
		}
	}
	held := d.live.Load()
	inMenu := d.inMenu.Load()
	// Hold, sampling; keep the last sample (the heap has settled most).
	var heldSample sample
	holdEnd := time.After(d.o.duration)
hold:
	for {
		select {
		case <-prog.C:
			heldSample = d.sample(ctx)
			fmt.Fprintf(os.Stderr, "[%5.1fs] hold    live %d  in-menu %d  RSS %.1f MiB\n", time.Since(t0).Seconds(),
				d.live.Load(), d.inMenu.Load(), float64(heldSample.proc.RSS)/(1<<20))
		case <-holdEnd:
			break hold
		case <-ctx.Done():
			break hold
		}
	}
	if d.o.memProfile != "" && d.tgt.inproc != nil {
		if err := writeHeapProfile(d.o.memProfile); err != nil {
			d.noteErr("memprofile: " + err.Error())
		}
	}
	if heldSample.proc.Taken.IsZero() {
		heldSample = d.sample(ctx)
	}
	stillHeld := d.live.Load()
	d.mu.Lock()
	calls := d.calls
	d.mu.Unlock()
	for _, c := range calls {
		go c.Hangup("NORMAL_CLEARING")
	}
	graceEnd := time.After(d.o.grace)
drain:
	for d.live.Load() > 0 {
		select {
		case <-prog.C:
			d.progress("hangup", t0)
		case <-graceEnd:
			break drain
		case <-ctx.Done():
			break drain
		}
	}
	cancel()
	after := d.sample(context.Background())
	rep := d.baseReport("hold", before, after)
	rep.ArrivalSeconds = arrivalEnd.Sub(t0).Seconds()
	rep.SetupsPerSecond = float64(setupsInWindow) / rep.ArrivalSeconds
	rep.Held = held
	rep.HeldInMenu = inMenu
	rep.HeldAtEnd = stillHeld
	rep.HoldPromptSeconds = prompt.Seconds()
	rep.PeakRSSBytes = heldSample.proc.RSS
	if held > 0 && heldSample.proc.RSS > 0 {
		rep.RSSPerHeldCallBytes = float64(heldSample.proc.RSS-before.proc.RSS) / float64(held)
	}
	if hb, ok := heldSample.metrics["go_memstats_heap_inuse_bytes"]; ok && held > 0 {
		rep.HeapPerHeldCallBytes = (hb - before.metrics["go_memstats_heap_inuse_bytes"]) / float64(held)
		rep.GoroutinesPerHeldCall = (heldSample.metrics["go_goroutines"] - before.metrics["go_goroutines"]) / float64(held)
	}
	rep.GCPauseUS = d.gcPauses(ctx, after)
	return rep, nil
}
