package main

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// defaultGCPercent is ivrd's GOGC when neither GOGC nor gc_percent is set:
// Go's own 100. Measured under ivrload (BENCHMARKS.md, "IVR per-call
// cost"): 50 cut RSS per held call but cost about a quarter more CPU per
// call at ivrd's small heap (each collection scans every call's stacks), and
// CPU per call is what limits a box's call rate; memory is bounded by the
// soft limit below instead. Set gc_percent: 50 to trade CPU for RSS.
const defaultGCPercent = 100

// defaultMemoryLimitShare is the soft memory limit (GOMEMLIMIT) ivrd sets,
// as a share of the cgroup's memory.max, when neither GOMEMLIMIT nor
// memory_limit is set: near the container's limit the collector works
// harder instead of letting the kernel kill the process with every call.
// Without a cgroup limit no soft limit is set.
const defaultMemoryLimitShare = 0.8

// tuneRuntime applies the GC settings: the GOGC and GOMEMLIMIT environment
// variables win (the Go runtime has applied them already), then the
// config's gc_percent and memory_limit, then the defaults above. It returns
// what is in force, for the log.
func tuneRuntime(cfg Config, getenv func(string) string, cgroupMax func() (int64, bool)) (gcPercent int, memLimit int64, err error) {
	gcPercent = debug.SetGCPercent(-1)
	debug.SetGCPercent(gcPercent)
	if getenv("GOGC") == "" {
		gcPercent = defaultGCPercent
		if cfg.GCPercent != 0 {
			gcPercent = cfg.GCPercent
		}
		debug.SetGCPercent(gcPercent)
	}
	memLimit = debug.SetMemoryLimit(-1)
	if getenv("GOMEMLIMIT") != "" {
		return gcPercent, memLimit, nil
	}
	switch {
	case cfg.MemoryLimit != "":
		memLimit, err = parseMemoryLimit(cfg.MemoryLimit, cgroupMax)
		if err != nil {
			return gcPercent, 0, fmt.Errorf("config: %w: memory_limit %q: %w", ErrBadConfig, cfg.MemoryLimit, err)
		}
	default:
		if max, ok := cgroupMax(); ok {
			memLimit = int64(float64(max) * defaultMemoryLimitShare)
		}
	}
	if memLimit > 0 && memLimit < math.MaxInt64 {
		debug.SetMemoryLimit(memLimit)
	}
	return gcPercent, memLimit, nil
}

// parseMemoryLimit reads "off", a byte count with an optional KiB, MiB,
// GiB suffix, or a share of the cgroup limit ("80%").
func parseMemoryLimit(s string, cgroupMax func() (int64, bool)) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return math.MaxInt64, nil
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p <= 0 || p > 100 {
			return 0, fmt.Errorf("want a share in (0, 100]%%")
		}
		max, ok := cgroupMax()
		if !ok {
			return 0, fmt.Errorf("a share needs a cgroup memory limit, and this process has none")
		}
		return int64(float64(max) * p / 100), nil
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want off, bytes, <n>KiB/MiB/GiB or <n>%%")
	}
	return n * mult, nil
}

// cgroupMemoryMax reads the cgroup v2 memory.max of this process ("max":
// no limit).
func cgroupMemoryMax() (int64, bool) {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil && n > 0
}

// registerBuildInfo exports which ivrd this is and since when, so a load
// run or a dashboard can tell a restarted or wrong process:
// fsivr_build_info{version,revision,go_version} 1 and
// fsivr_start_time_seconds.
func registerBuildInfo(reg prometheus.Registerer, started time.Time) {
	version, revision := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					revision += "+dirty"
				}
			}
		}
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fsivr_build_info", Help: "Always 1; the labels say which ivrd build runs.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "go_version": runtime.Version()},
	})
	info.Set(1)
	start := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fsivr_start_time_seconds", Help: "When this ivrd process started, in Unix seconds.",
	})
	start.Set(float64(started.UnixNano()) / 1e9)
	reg.MustRegister(info, start)
}

// logRuntime says which GC settings are in force.
func logRuntime(logger *slog.Logger, gcPercent int, memLimit int64) {
	limit := "none"
	if memLimit > 0 && memLimit < math.MaxInt64 {
		limit = strconv.FormatInt(memLimit>>20, 10) + " MiB"
	}
	logger.Info("runtime", "gogc", gcPercent, "memory_limit", limit, "gomaxprocs", runtime.GOMAXPROCS(0))
}
