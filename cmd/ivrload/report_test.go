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
