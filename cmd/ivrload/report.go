package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report is the result of one run (also the -json output).
type report struct {
	Mode   string `json:"mode"`
	Target string `json:"target"`
	PID    int    `json:"pid,omitempty"`
	// Measured says which ivrd answered: its build and start time from
	// /metrics (fsivr_build_info, fsivr_start_time_seconds), so a run
	// against the wrong or a restarted process shows.
	Measured        string  `json:"measured"`
	Started         int64   `json:"calls_started"`
	Completed       int64   `json:"calls_completed"`
	Failed          int64   `json:"calls_failed"`
	DialFailed      int64   `json:"dial_failed"`
	CutAtEnd        int64   `json:"calls_cut_at_end"`
	LateWrites      int64   `json:"fake_writes_after_exit"`
	NoMenu          int64   `json:"calls_without_menu"`
	ArrivalsSkipped int64   `json:"arrivals_skipped_at_cap"`
	PeakConcurrent  int64   `json:"peak_concurrent"`
	ArrivalSeconds  float64 `json:"arrival_seconds"`
	SetupsPerSecond float64 `json:"setups_per_second"`
	Setup           summary `json:"setup_latency"`
	EventToCommand  summary `json:"event_to_command_latency"`

	RSSBeforeBytes int64   `json:"rss_before_bytes,omitempty"`
	RSSAfterBytes  int64   `json:"rss_after_bytes,omitempty"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes,omitempty"`
	CPUSeconds     float64 `json:"cpu_seconds,omitempty"`
	CPUPerCallMS   float64 `json:"cpu_per_call_ms,omitempty"`
	// ESLEvents is how many events ivrd read on the connections that ended
	// during the run (fsivr_esl_events_total); CPUPerEventUS is its CPU
	// over them: issue 14's "CPU per ESL event, whole path".
	ESLEvents     float64 `json:"esl_events,omitempty"`
	CPUPerEventUS float64 `json:"cpu_per_event_us,omitempty"`
	// Reactions is how many times ivrd's sessions answered events during
	// the run (fsivr_event_reaction_seconds): from its reader queuing the
	// events to the session sending the command, ivrd's own share of the
	// event->command latency above. ReactionWithin1ms/5ms are the shares
	// of them (0-1) within issue 14's p99 and p999 bounds.
	Reactions         float64 `json:"ivrd_reactions,omitempty"`
	ReactionWithin1ms float64 `json:"ivrd_reaction_within_1ms,omitempty"`
	ReactionWithin5ms float64 `json:"ivrd_reaction_within_5ms,omitempty"`

	Held                  int64   `json:"held,omitempty"`
	HeldInMenu            int64   `json:"held_in_menu,omitempty"`
	HeldAtEnd             int64   `json:"held_at_end,omitempty"`
	HoldPromptSeconds     float64 `json:"hold_prompt_seconds,omitempty"`
	RSSPerHeldCallBytes   float64 `json:"rss_per_held_call_bytes,omitempty"`
	HeapPerHeldCallBytes  float64 `json:"heap_per_held_call_bytes,omitempty"`
	GoroutinesPerHeldCall float64 `json:"goroutines_per_held_call,omitempty"`

	GCPauseUS        map[string]float64 `json:"gc_pause_quantiles_us,omitempty"`
	ESLErrors        float64            `json:"ivrd_esl_errors"`
	MaxMailboxDepth  int64              `json:"max_mailbox_depth,omitempty"`
	ByKind           map[string]int     `json:"ended_by_kind"`
	Errors           map[string]int     `json:"errors,omitempty"`
	ProtocolErrors   int64              `json:"protocol_errors"`
	GoroutinesBefore float64            `json:"ivrd_goroutines_before,omitempty"`
	GoroutinesAfter  float64            `json:"ivrd_goroutines_after,omitempty"`
}

func (d *driver) baseReport(mode string, before, after sample) report {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := report{
		Mode: mode, Target: d.tgt.addr, PID: d.tgt.pid,
		Started: d.started.Load(), Completed: d.completed.Load(), Failed: d.failed.Load(),
		DialFailed: d.dialFailed.Load(), CutAtEnd: d.cutByTool.Load(), LateWrites: d.lateWrites.Load(), NoMenu: d.noMenu.Load(), PeakConcurrent: d.peak.Load(),
		Setup: d.setup.summary(), EventToCommand: d.lat.summary(),
		RSSBeforeBytes: before.proc.RSS, RSSAfterBytes: after.proc.RSS,
		ByKind: maps.Clone(d.byKind), Errors: maps.Clone(d.errs),
		GoroutinesBefore: before.metrics["go_goroutines"], GoroutinesAfter: after.metrics["go_goroutines"],
	}
	r.Measured = measured(d.tgt, before, after)
	r.ESLErrors = after.metrics["fsivr_esl_errors_total"] - before.metrics["fsivr_esl_errors_total"]
	r.ProtocolErrors = r.Failed + r.DialFailed + int64(r.ESLErrors)
	if d.tgt.inproc != nil {
		r.MaxMailboxDepth = d.tgt.inproc.maxDepth.Load()
	}
	return r
}

// measured names the ivrd behind the samples: the in-process engine, or the
// build and start time ivrd's /metrics gave (and a warning when the start
// time changed during the run: ivrd restarted and the figures mix two
// processes).
func measured(t target, before, after sample) string {
	if t.inproc != nil {
		return "the ivr engine inside this ivrload (-inprocess)"
	}
	if after.metrics == nil {
		return "unknown: no /metrics answer (-metrics " + t.metricsURL + ")"
	}
	build := "build unknown (no fsivr_build_info: an older ivrd?)"
	for name := range after.metrics {
		if labels, ok := strings.CutPrefix(name, "fsivr_build_info{"); ok {
			build = "build " + strings.TrimSuffix(labels, "}")
		}
	}
	start, ok := after.metrics["fsivr_start_time_seconds"]
	if !ok {
		start = after.metrics["process_start_time_seconds"]
	}
	out := build
	if start > 0 {
		out += ", started " + time.Unix(int64(start), 0).UTC().Format(time.RFC3339)
	}
	if b, ok := before.metrics["fsivr_start_time_seconds"]; ok && b != start {
		out += " (RESTARTED during the run: it started " + time.Unix(int64(b), 0).UTC().Format(time.RFC3339) + " before)"
	}
	return out
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (r report) print(w io.Writer) {
	row := func(k, f string, a ...any) { fmt.Fprintf(w, "  %-38s %s\n", k, fmt.Sprintf(f, a...)) }
	fmt.Fprintf(w, "ivrload %s against %s (pid %d)\n", r.Mode, r.Target, r.PID)
	row("measured", "%s", r.Measured)
	row("calls started", "%d", r.Started)
	row("calls completed", "%d", r.Completed)
	row("calls failed (+ dial failures)", "%d (+ %d)", r.Failed, r.DialFailed)
	if r.LateWrites > 0 {
		row("fake's notice after +OK bye lost", "%d (ivrd closed first; harmless, FreeSWITCH ignores it)", r.LateWrites)
	}
	if r.CutAtEnd > 0 {
		row("calls still up at the end", "%d (hung up by ivrload at its own bound; not errors)", r.CutAtEnd)
	}
	if r.Mode == "mix" {
		row("calls that never reached a menu", "%d (outside opening hours, or cut before it)", r.NoMenu)
		row("arrivals skipped at -calls cap", "%d", r.ArrivalsSkipped)
	}
	row("peak concurrent calls", "%d", r.PeakConcurrent)
	row("call setups/s (connect->1st sendmsg)", "%.0f over %.1fs", r.SetupsPerSecond, r.ArrivalSeconds)
	row("setup latency", "%s", r.Setup)
	row("event->next command latency", "%s", r.EventToCommand)
	if r.Held > 0 {
		row("calls held / in the menu", "%d / %d (prompt %.0fs; %d still up at hold end)", r.Held, r.HeldInMenu, r.HoldPromptSeconds, r.HeldAtEnd)
		row("RSS per held call", "%.1f KiB", r.RSSPerHeldCallBytes/1024)
		if r.HeapPerHeldCallBytes != 0 {
			row("Go heap in use per held call", "%.1f KiB", r.HeapPerHeldCallBytes/1024)
			row("goroutines per held call", "%.2f", r.GoroutinesPerHeldCall)
		}
	}
	if r.RSSBeforeBytes > 0 {
		row("ivrd RSS before / peak / after", "%s / %s / %s", mib(r.RSSBeforeBytes), mib(r.PeakRSSBytes), mib(r.RSSAfterBytes))
	}
	if r.CPUSeconds > 0 {
		row("ivrd CPU", "%.2fs (%.3f ms per completed call)", r.CPUSeconds, r.CPUPerCallMS)
	}
	if r.CPUPerEventUS > 0 {
		row("ivrd CPU per ESL event", "%.1f µs (%.0f events read, %.1f per completed call)",
			r.CPUPerEventUS, r.ESLEvents, r.ESLEvents/float64(max(r.Completed, 1)))
	}
	if r.Reactions > 0 {
		row("ivrd's own reaction (queued -> sent)", "%.2f %% within 1 ms, %.3f %% within 5 ms (n=%.0f)",
			100*r.ReactionWithin1ms, 100*r.ReactionWithin5ms, r.Reactions)
	}
	if len(r.GCPauseUS) > 0 {
		row("GC pause quantiles (0/.25/.5/.75/1)", "%.0f / %.0f / %.0f / %.0f / %.0f µs",
			r.GCPauseUS["0"], r.GCPauseUS["0.25"], r.GCPauseUS["0.5"], r.GCPauseUS["0.75"], r.GCPauseUS["1"])
	}
	if r.GoroutinesBefore > 0 || r.GoroutinesAfter > 0 {
		row("ivrd goroutines before / after", "%.0f / %.0f", r.GoroutinesBefore, r.GoroutinesAfter)
	}
	if r.MaxMailboxDepth > 0 {
		row("deepest event mailbox", "%d events", r.MaxMailboxDepth)
	}
	row("protocol errors", "%d (ivrd esl errors %.0f)", r.ProtocolErrors, r.ESLErrors)
	kinds := slices.Sorted(maps.Keys(r.ByKind))
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, r.ByKind[k]))
	}
	row("ended by kind", "%s", strings.Join(parts, " "))
	for msg, n := range r.Errors {
		row("error", "%dx %.150s", n, msg)
	}
}

// perEvent sets ivrd's CPU per ESL event from the events its connections
// read between the two samples (nothing when ivrd does not export them).
func (r *report) perEvent(before, after sample) {
	n := after.metrics["fsivr_esl_events_total"] - before.metrics["fsivr_esl_events_total"]
	if n <= 0 || r.CPUSeconds <= 0 {
		return
	}
	r.ESLEvents = n
	r.CPUPerEventUS = r.CPUSeconds * 1e6 / n
}

// reactions sets the shares of ivrd's reactions within 1 and 5 ms from
// its fsivr_event_reaction_seconds buckets (nothing when ivrd does not
// export them).
func (r *report) reactions(before, after sample) {
	delta := func(name string) float64 { return after.metrics[name] - before.metrics[name] }
	n := delta("fsivr_event_reaction_seconds_count")
	if n <= 0 {
		return
	}
	r.Reactions = n
	r.ReactionWithin1ms = delta(`fsivr_event_reaction_seconds_bucket{le="0.001"}`) / n
	r.ReactionWithin5ms = delta(`fsivr_event_reaction_seconds_bucket{le="0.005"}`) / n
}
