// Package cputime reads the CPU time the process has used, for benchmarks
// that report CPU per operation beside wall time: on a shared machine wall
// time also counts the time other processes had the core, CPU time does
// not.
//
//	cpu0 := cputime.Process(b)
//	for b.Loop() { ... }
//	b.ReportMetric(float64(cputime.Process(b)-cpu0)/float64(b.N), "cpu-ns/op")
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Process is this process's user plus system CPU time so far, of every
// thread (GC workers included); it fails tb if the kernel cannot say.
func Process(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("cputime: getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
