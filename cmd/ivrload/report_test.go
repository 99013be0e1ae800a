package main

import (
	"strings"
	"testing"
)

// The report names the ivrd it measured, and says so when it restarted
// during the run.
func TestMeasuredNamesTheProcess(t *testing.T) {
	before := sample{metrics: map[string]float64{"fsivr_start_time_seconds": 1_700_000_000}}
	after := sample{metrics: map[string]float64{
		`fsivr_build_info{go_version="go1.26.8",revision="abc123",version="(devel)"}`: 1,
		"fsivr_start_time_seconds": 1_700_000_000,
	}}
	got := measured(target{}, before, after)
	for _, want := range []string{`revision="abc123"`, "started 2023-11-14T22:13:20Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("measured = %q, want it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "RESTARTED") {
		t.Errorf("measured = %q: no restart happened", got)
	}
	after.metrics["fsivr_start_time_seconds"] = 1_700_000_100
	if got := measured(target{}, before, after); !strings.Contains(got, "RESTARTED") {
		t.Errorf("measured = %q, want the restart said", got)
	}
	if got := measured(target{metricsURL: "http://127.0.0.1:1/metrics"}, sample{}, sample{}); !strings.HasPrefix(got, "unknown") {
		t.Errorf("without /metrics: %q", got)
	}
}

func TestErrorsCountedByKind(t *testing.T) {
	d := newDriver(options{}, mix{}, target{})
	d.noteErr("esltest: reading command: write tcp 127.0.0.1:49412->127.0.0.1:18084: write: broken pipe")
	d.noteErr("esltest: reading command: write tcp 127.0.0.1:52664->127.0.0.1:18084: write: broken pipe")
	if len(d.errs) != 1 {
		t.Fatalf("errors %v, want one kind", d.errs)
	}
	for msg, n := range d.errs {
		if n != 2 || strings.Contains(msg, "127.0.0.1") {
			t.Errorf("%dx %q", n, msg)
		}
	}
}

// The report gives the shares of ivrd's own reactions within 1 and 5 ms,
// from the histogram's buckets over the run.
func TestReactionShares(t *testing.T) {
	r := &report{}
	r.reactions(sample{metrics: map[string]float64{
		"fsivr_event_reaction_seconds_count": 100, `fsivr_event_reaction_seconds_bucket{le="0.001"}`: 90,
		`fsivr_event_reaction_seconds_bucket{le="0.005"}`: 100,
	}}, sample{metrics: map[string]float64{
		"fsivr_event_reaction_seconds_count": 1100, `fsivr_event_reaction_seconds_bucket{le="0.001"}`: 1080,
		`fsivr_event_reaction_seconds_bucket{le="0.005"}`: 1099,
	}})
	if r.Reactions != 1000 || r.ReactionWithin1ms != 0.99 || r.ReactionWithin5ms != 0.999 {
		t.Fatalf("reactions %v, within 1 ms %v, within 5 ms %v; want 1000, 0.99, 0.999", r.Reactions, r.ReactionWithin1ms, r.ReactionWithin5ms)
	}
	var sb strings.Builder
	r.print(&sb)
	if !strings.Contains(sb.String(), "99.00 % within 1 ms, 99.900 % within 5 ms (n=1000)") {
		t.Errorf("report does not give the shares:\n%s", sb.String())
	}
	var none report // an ivrd without the histogram: nothing, no division by zero
	none.reactions(sample{}, sample{})
	if none.Reactions != 0 || none.ReactionWithin1ms != 0 || none.ReactionWithin5ms != 0 {
		t.Errorf("without the histogram: %+v", none)
	}
}

// Issue 14: the report gives ivrd's CPU per ESL event, from the events its
// connections read during the run.
func TestCPUPerEvent(t *testing.T) {
	r := &report{Completed: 10, CPUSeconds: 0.5}
	r.perEvent(sample{metrics: map[string]float64{"fsivr_esl_events_total": 1000}},
		sample{metrics: map[string]float64{"fsivr_esl_events_total": 1250}})
	if r.ESLEvents != 250 || r.CPUPerEventUS != 2000 {
		t.Fatalf("events %v, CPU per event %v µs; want 250 and 2000", r.ESLEvents, r.CPUPerEventUS)
	}
	var sb strings.Builder
	r.print(&sb)
	if !strings.Contains(sb.String(), "2000.0 µs (250 events read, 25.0 per completed call)") {
		t.Errorf("report does not say the CPU per event:\n%s", sb.String())
	}
	old := &report{Completed: 10, CPUSeconds: 0.5} // an ivrd without the counter
	old.perEvent(sample{metrics: map[string]float64{}}, sample{metrics: map[string]float64{}})
	if old.CPUPerEventUS != 0 {
		t.Errorf("CPU per event %v without events", old.CPUPerEventUS)
	}
}
