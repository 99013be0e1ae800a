package main

import (
	"errors"
	"math"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestParseMemoryLimit(t *testing.T) {
	cg := func() (int64, bool) { return 1 << 30, true }
	none := func() (int64, bool) { return 0, false }
	for _, tc := range []struct {
		in   string
		want int64
	}{{"off", math.MaxInt64}, {"1048576", 1 << 20}, {"512MiB", 512 << 20}, {"2GiB", 2 << 30}, {"64KiB", 64 << 10}, {"50%", 1 << 29}} {
		got, err := parseMemoryLimit(tc.in, cg)
		if err != nil || got != tc.want {
			t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "x", "-1", "0", "12TB", "150%", "0%"} {
		if _, err := parseMemoryLimit(in, cg); err == nil {
			t.Errorf("parseMemoryLimit(%q) accepted", in)
		}
	}
	if _, err := parseMemoryLimit("80%", none); err == nil {
		t.Error("a share without a cgroup limit accepted")
	}
}

// The environment wins over the config, the config over the defaults; a
// cgroup limit gives the default soft limit.
func TestTuneRuntime(t *testing.T) {
	oldGC, oldLimit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(oldGC)
	t.Cleanup(func() { debug.SetGCPercent(oldGC); debug.SetMemoryLimit(oldLimit) })
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cg := func() (int64, bool) { return 1000 << 20, true }
	none := func() (int64, bool) { return 0, false }

	debug.SetGCPercent(37) // not the default: the defaults must set it
	gc, limit, err := tuneRuntime(Config{}, env(nil), cg)
	if err != nil || gc != defaultGCPercent || limit != 800<<20 {
		t.Errorf("defaults: gogc %d, limit %d, %v; want %d, %d", gc, limit, err, defaultGCPercent, 800<<20)
	}
	if got := debug.SetGCPercent(oldGC); got != defaultGCPercent {
		t.Errorf("GOGC in force %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != 800<<20 {
		t.Errorf("memory limit in force %d, want %d", got, 800<<20)
	}
	gc, limit, err = tuneRuntime(Config{GCPercent: 80, MemoryLimit: "256MiB"}, env(nil), none)
	if err != nil || gc != 80 || limit != 256<<20 {
		t.Errorf("config: gogc %d, limit %d, %v", gc, limit, err)
	}
	debug.SetGCPercent(120)
	debug.SetMemoryLimit(123 << 20)
	gc, limit, err = tuneRuntime(Config{GCPercent: 80, MemoryLimit: "256MiB"}, env(map[string]string{"GOGC": "120", "GOMEMLIMIT": "123MiB"}), cg)
	if err != nil || gc != 120 || limit != 123<<20 {
		t.Errorf("environment: gogc %d, limit %d, %v; want the environment's 120, %d", gc, limit, err, 123<<20)
	}
	if _, _, err := tuneRuntime(Config{MemoryLimit: "lots"}, env(nil), cg); !errors.Is(err, ErrBadConfig) {
		t.Errorf("bad memory_limit: %v, want ErrBadConfig", err)
	}
}

func TestBuildInfoMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	started := time.Unix(1_700_000_000, 0)
	registerBuildInfo(reg, started)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			seen[mf.GetName()] = m.GetGauge().GetValue()
			if mf.GetName() == "fsivr_build_info" {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if !strings.HasPrefix(labels["go_version"], "go") || labels["version"] == "" {
					t.Errorf("build info labels %v", labels)
				}
			}
		}
	}
	if seen["fsivr_build_info"] != 1 || seen["fsivr_start_time_seconds"] != 1_700_000_000 {
		t.Errorf("gauges %v", seen)
	}
}
