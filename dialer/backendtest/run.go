package backendtest

import (
	"context"
	"testing"
	"time"
)

// RunUntilCleanup runs a backend's connection loop (run, its Run method) on
// its own goroutine until the test ends, and waits at most 10 s for ready
// (its Ready channel): every backend test starts its backend this way.
// The loop has returned when the test's cleanup is over.
func RunUntilCleanup(t testing.TB, run func(context.Context) error, ready <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("backend not ready")
	}
}
