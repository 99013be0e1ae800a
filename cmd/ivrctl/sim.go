package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/crm"
	"github.com/fsivr/fsivr/crm/crmtest"
	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/esl/esltest"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
	"github.com/fsivr/fsivr/ivr/ivrtest"
)

// simulation is one simulated call: the real ivr engine serving a real ESL
// listener on loopback, a fake FreeSWITCH (esltest) placing the call, a fake
// CRM, and the call log writer without Redis (entries go to a spool).
type simulation struct {
	Flow      string   // flow name (ivr_flow channel variable)
	FlowFiles []string // flow files or dirs; empty = the built-in flows
	SoundsDir string
	Caller    string
	At        time.Time
	Digits    []string // one entry per play_and_get_digits try ("" = silence)
	CRM       string   // extension the CRM returns for Caller; "" = unknown caller; "down" = CRM down
	Bridges   []string // per bridge: "answer" or a failure cause (USER_BUSY, ...)
	Override  string   // ops override value for the flow's time nodes
	HangupAt  string   // app[:n]: caller hangs up during the n-th run of app
	Verbose   bool     // ivr's own log lines on stderr
}

// transcript serialises the lines of the fake FreeSWITCH and the call log,
// which arrive from different goroutines.
type transcript struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (t *transcript) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%7.3fs  ", time.Since(t.start).Seconds())
	fmt.Fprintf(t.w, format, args...)
	fmt.Fprintln(t.w)
}

func (sim simulation) loadFlows() (map[string]*flows.Flow, error) {
	if len(sim.FlowFiles) == 0 {
		return flows.Builtin()
	}
	var paths []string
	for _, p := range sim.FlowFiles {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if st.IsDir() {
			m, err := flows.LoadDir(p, flows.Options{SoundsDir: sim.SoundsDir})
			if err != nil {
				return nil, err
			}
			for _, f := range m {
				paths = append(paths, f.File)
			}
			continue
		}
		paths = append(paths, p)
	}
	return flows.LoadFiles(paths, flows.Options{SoundsDir: sim.SoundsDir})
}

// run places the call and writes the transcript to w. It returns the call
// log entries of the call.
func (sim simulation) run(ctx context.Context, w io.Writer) ([]calllog.Entry, error) {
	all, err := sim.loadFlows()
	if err != nil {
		return nil, err
	}
	if _, ok := all[sim.Flow]; !ok {
		return nil, fmt.Errorf("no flow %q (have %s)", sim.Flow, strings.Join(sortedKeys(all), ", "))
	}
	tr := &transcript{w: w, start: time.Now()}

	// Fake CRM.
	crmSrv := crmtest.NewServer(nil)
	defer crmSrv.Close()
	crmURL := crmSrv.URL
	switch sim.CRM {
	case "":
	case "down":
		crmSrv.Close()
	default:
		crmSrv.Set(sim.Caller, crmtest.Answer{Extension: sim.CRM})
	}
	crmClient, err := crm.New(crm.Config{BaseURL: crmURL, Timeout: 500 * time.Millisecond}, &http.Client{}, nil)
	if err != nil {
		return nil, err
	}

	// Call log without Redis: entries wait in a spool; Tee prints them.
	spool, err := os.MkdirTemp("", "fsivr-sim-spool-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(spool)
	var (
		entriesMu sync.Mutex
		entries   []calllog.Entry
	)
	writer, err := calllog.NewWriter(calllog.Config{SpoolDir: spool, Tee: func(e calllog.Entry) {
		entriesMu.Lock()
		entries = append(entries, e)
		entriesMu.Unlock()
		tr.printf("log      %-10s %-16s %s%s", e.Kind, e.Node, e.Value, formatFields(e.Fields))
	}}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}

	logger := slog.New(slog.DiscardHandler)
	if sim.Verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var overrides ivr.OverrideStore
	if sim.Override != "" {
		ov := ivr.MapOverrides{}
		for _, f := range all {
			for _, n := range f.Nodes {
				if n.Time != nil && n.Time.Override != nil {
					ov[n.Time.Override.Key] = sim.Override
				}
			}
		}
		overrides = ov
	}
	at := sim.At
	eng := ivr.NewEngine(ivr.Config{
		Flows:       ivrtest.Flows(all),
		DefaultFlow: sim.Flow,
		CallLog:     writer,
		Prefetchers: map[string]ivr.Prefetcher{"crm": crmClient},
		Overrides:   overrides,
		Logger:      logger,
		Now:         func() time.Time { return at.Add(time.Since(tr.start)) },
	})

	srv := ivrtest.NewServer(eng, ivr.ServeOptions{DrainTimeout: 2 * time.Second, Logger: logger})
	defer srv.Close()
	tr.printf("ivrd     listening on %s (ivr engine, esl outbound server)", srv.Addr)

	script, err := sim.script()
	if err != nil {
		return nil, err
	}
	seen := make(chan esltest.Record, 64)
	script.Observer = func(r esltest.Record) {
		switch r.Verb {
		case "sendmsg":
			tr.printf("ivr→FS   execute %s %s", r.App, r.Arg)
		default:
			tr.printf("ivr→FS   %s", strings.TrimSpace(r.Raw))
		}
		select {
		case seen <- r:
		default:
		}
	}
	tr.printf("FS→ivr   call %s from %s to %s (ivr_flow=%s, %s)", script.UUID, sim.Caller, script.DestinationNumber, sim.Flow, sim.At.Format("Mon 15:04 MST"))
	callCtx, cancelCall := context.WithTimeout(ctx, 60*time.Second)
	defer cancelCall()
	call, err := esltest.StartOutbound(callCtx, srv.Addr, script)
	if err != nil {
		return nil, err
	}
	for waiting := true; waiting; {
		select {
		case r := <-seen:
			// After a transfer the call lives on in FreeSWITCH's dialplan;
			// the simulated caller hangs up there.
			if r.Verb == "sendmsg" && r.App == "transfer" {
				go call.Hangup("NORMAL_CLEARING")
			}
		case <-call.Done():
			waiting = false
		}
	}
	if err := srv.Close(); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := writer.Close(cctx); err != nil {
		return nil, fmt.Errorf("call log: %w", err)
	}
	if err := call.Err(); err != nil {
		return nil, fmt.Errorf("call: %w", err)
	}
	entriesMu.Lock()
	defer entriesMu.Unlock()
	tr.printf("FS       call ended: %s", call.HangupCause())
	return entries, nil
}

func (sim simulation) script() (esltest.Script, error) {
	s := esltest.Script{
		UUID:              esl.NewUUID(),
		CallerIDNumber:    sim.Caller,
		DestinationNumber: "7000",
		Vars:              map[string]string{ivr.ChannelVarFlow: sim.Flow},
		Digits:            sim.Digits,
		PlaybackDuration:  20 * time.Millisecond,
		FifoBridge:        true,
	}
	for _, b := range sim.Bridges {
		if strings.EqualFold(b, "answer") {
			s.Bridges = append(s.Bridges, esltest.BridgeOutcome{Answer: true, TalkTime: 100 * time.Millisecond})
		} else {
			s.Bridges = append(s.Bridges, esltest.BridgeOutcome{Cause: strings.ToUpper(b)})
		}
	}
	if sim.HangupAt != "" {
		app, nth, _ := strings.Cut(sim.HangupAt, ":")
		n := 1
		if nth != "" {
			if _, err := fmt.Sscanf(nth, "%d", &n); err != nil {
				return s, fmt.Errorf("--hangup-at %q: want app[:n]", sim.HangupAt)
			}
		}
		s.HangupAt = &esltest.HangupPoint{App: app, Nth: n, Delay: 5 * time.Millisecond}
	}
	return s, nil
}

func formatFields(f map[string]string) string {
	if len(f) == 0 {
		return ""
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("  {")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%s", k, f[k])
	}
	b.WriteString("}")
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// printPath writes the path and outcome from the hangup entry.
func printPath(w io.Writer, entries []calllog.Entry) {
	for _, e := range entries {
		if e.Kind == calllog.KindHangup {
			fmt.Fprintf(w, "\npath:    %s\noutcome: %s\ncause:   %s\n",
				strings.ReplaceAll(e.Fields["path"], ">", " → "), e.Fields["outcome"], e.Fields["cause"])
			return
		}
	}
	fmt.Fprintln(w, "\n(no hangup entry)")
}
