// Command ivrload drives many fake FreeSWITCH calls (esl/esltest) against
// ivrd's outbound event socket and reports throughput, latency and what
// each call costs ivrd in memory and CPU.
//
//	ivrload -serve-crm                       # fake CRM for ivrd; prints its URL
//	ivrload -addr 127.0.0.1:8084 -calls 5000 -rate 1000 -duration 30s
//	ivrload -mode hold -calls 10000 -rate 2000
//	ivrload -inprocess -calls 2000 -rate 500  # ivr engine in this process
//
// Every run stops by itself (-duration, then at most -grace for the calls
// in flight), and only dials loopback addresses.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/fsivr/fsivr/crm/crmtest"
)

type options struct {
	addr       string
	pid        int
	metricsURL string
	mode       string
	calls      int
	rate       float64
	duration   time.Duration
	grace      time.Duration
	playback   time.Duration
	holdPrompt time.Duration
	talk       time.Duration
	mix        string
	crmLatency time.Duration
	serveCRM   bool
	inprocess  bool
	jsonOut    bool
	memProfile string
	cpuProfile string
	execDelay  time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8084", "ivrd's outbound ESL listener (loopback only)")
	flag.IntVar(&o.pid, "pid", 0, "ivrd's pid for /proc RSS and CPU (0: the process listening on -addr)")
	flag.StringVar(&o.metricsURL, "metrics", "http://127.0.0.1:9184/metrics", "ivrd's Prometheus endpoint for GC pauses, heap and goroutines (\"\" to skip)")
	flag.StringVar(&o.mode, "mode", "mix", "mix: calls arrive at -rate through the -mix for -duration; hold: -calls calls wait in the main menu")
	flag.IntVar(&o.calls, "calls", 1000, "mix: most calls in flight at once; hold: calls to hold")
	flag.Float64Var(&o.rate, "rate", 200, "call arrivals per second")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "mix: how long calls arrive; hold: how long the calls are held once all wait in the menu")
	flag.DurationVar(&o.grace, "grace", 60*time.Second, "how long calls in flight may take to end after the arrivals stop")
	flag.DurationVar(&o.playback, "playback", time.Second, "how long each prompt (and each wait for digits) takes")
	flag.DurationVar(&o.holdPrompt, "hold-prompt", 0, "hold: prompt length (0: long enough that every call reaches the menu before the first one leaves it)")
	flag.DurationVar(&o.talk, "talk", 2*time.Second, "talk time of an answered bridge, and time until the caller hangs up after a transfer")
	flag.StringVar(&o.mix, "mix", "hst=25,crm=20,busy=10,extn=10,queue=15,invalid=5,hangup=15", "call mix, kind=weight,...")
	flag.DurationVar(&o.crmLatency, "crm-latency", 5*time.Millisecond, "latency of the fake CRM (-serve-crm, -inprocess)")
	flag.BoolVar(&o.serveCRM, "serve-crm", false, "only run the fake CRM (prints its URL for FSIVR_CRM_BASE_URL) until interrupted or -duration")
	flag.BoolVar(&o.inprocess, "inprocess", false, "run the ivr engine in this process (fake CRM, fixed clock at Wednesday 10:00 in the flow's zone) instead of dialing ivrd")
	flag.BoolVar(&o.jsonOut, "json", false, "print the final report as JSON on stdout")
	flag.StringVar(&o.memProfile, "memprofile", "", "with -inprocess -mode hold: write a heap profile here while the calls are held")
	flag.DurationVar(&o.execDelay, "execute-delay", 0, "time from a sendmsg execute's +OK to the app's first event (0: esltest's default, 2ms; a real switch takes ~20ms; negative: none, which also saves the fake a write per app)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (the fake channels; with -inprocess the engine too) for the whole run here")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: ivrload [flags]\n\n%s\n\nflags:\n", kindHelp)
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "ivrload:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	slog.SetDefault(logger)
	if err := raiseFileLimit(); err != nil {
		logger.Warn("could not raise the open-file limit", "err", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if o.serveCRM {
		srv := newCRM(o.crmLatency)
		defer srv.Close()
		fmt.Println(srv.URL)
		fmt.Fprintf(os.Stderr, "fake CRM at %s (callers %d..%d have extensions 1000..1999, latency %s); start ivrd with FSIVR_CRM_BASE_URL=%s\n",
			srv.URL, crmCallerBase, crmCallerBase+crmCallers-1, o.crmLatency, srv.URL)
		t := time.NewTimer(o.duration)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return nil
	}
	if o.calls <= 0 || o.rate <= 0 || o.duration <= 0 {
		return errors.New("-calls, -rate and -duration must be positive")
	}
	m, err := parseMix(o.mix)
	if err != nil {
		return err
	}
	if o.mode != "mix" && o.mode != "hold" {
		return fmt.Errorf("-mode %q: want mix or hold", o.mode)
	}

	if o.cpuProfile != "" {
		stopProfile, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if !o.inprocess && os.Getenv("GOGC") == "" {
		// The fake channels' heap is small and short-lived, but thousands
		// of goroutine stacks make each collection dear: collect less
		// often, the tool's memory is not what is measured. Not with
		// -inprocess, whose heap figures are the engine's.
		debug.SetGCPercent(400)
	}
	tgt := target{addr: o.addr, pid: o.pid, metricsURL: o.metricsURL}
	if o.inprocess {
		ip, err := startInProcess(ctx, o.crmLatency)
		if err != nil {
			return err
		}
		defer ip.stop()
		tgt = ip.target
	} else {
		if err := checkLoopback(o.addr); err != nil {
			return err
		}
		if tgt.pid == 0 {
			_, port, _ := net.SplitHostPort(o.addr)
			var p int
			if _, err := fmt.Sscan(port, &p); err == nil {
				if tgt.pid, err = findListenerPID(p); err != nil {
					logger.Warn("ivrd's pid not found: no RSS/CPU figures (give -pid)", "err", err)
				}
			}
		}
	}
	d := newDriver(o, m, tgt)
	var rep report
	if o.mode == "hold" {
		rep, err = d.hold(ctx)
	} else {
		rep, err = d.runMix(ctx)
	}
	if err != nil {
		return err
	}
	if o.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(os.Stdout)
	return nil
}

func newCRM(latency time.Duration) *crmtest.Server {
	answers := map[string]crmtest.Answer{}
	for caller, ext := range crmAnswers() {
		answers[caller] = crmtest.Answer{Extension: ext, Name: "Caller " + caller, Delay: latency}
	}
	srv := crmtest.NewServer(answers)
	srv.SetDefault(crmtest.Answer{Status: 404, Body: "not found\n", ContentType: "text/plain", Delay: latency})
	return srv
}

// startCPUProfile profiles the tool itself: on its one core the fake
// channels, not ivrd, can be what limits a run (issue 14).
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			slog.Warn("closing the CPU profile", "err", err)
		}
	}, nil
}

// checkLoopback refuses targets that are not on this machine: the tool
// opens thousands of connections and must not be pointed at a real switch
// or someone else's server.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: only loopback addresses are allowed", addr)
	}
	return nil
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: every
// fake call is one socket here.
func raiseFileLimit() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return nil
}
