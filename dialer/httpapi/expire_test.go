package httpapi

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dialertest"
)

// TestCallNotPlacedExpires: a call the trunk cannot take (not placed) is
// given up after QueueTimeout instead of being dialed late.
func TestCallNotPlacedExpires(t *testing.T) {
	var tries atomic.Int32
	fake := dialertest.New(nil, func(dialer.Call, int) dialertest.Step {
		tries.Add(1)
		return dialertest.Step{Err: fmt.Errorf("trunk down: %w", dialer.ErrNotPlaced)}
	})
	cfg := testConfig()
	cfg.Trunks[0].Backend = "fake"
	cfg.QueueTimeout = 300 * time.Millisecond
	api, err := New(cfg, Options{Store: dialer.NewMemStore(), Backends: map[string]dialer.Backend{"fake": fake},
		Logger: slog.New(slog.DiscardHandler), EnginePoll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() { srv.Close(); api.Close() })
	e := &env{srv: srv, api: api}
	c := createCall(t, e, CallRequest{Number: numAnswer, Message: "welcome"})
	start := time.Now()
	v := e.waitCall(t, c.ID)
	if v.Status != string(dialer.StatusCancelled) || v.Disposition != dialer.NotPlaced {
		t.Errorf("expired call: %+v", v)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("given up after %v, queue timeout 300ms", took)
	}
	n := tries.Load()
	time.Sleep(300 * time.Millisecond)
	if tries.Load() != n || n != 1 {
		t.Errorf("%d originates tried (then %d), want 1 and none after giving up", n, tries.Load())
	}
}
