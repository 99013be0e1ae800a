package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayBounds(t *testing.T) {
	p := Policy{Min: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for attempt := range 10 {
		want := min(p.Min<<attempt, p.Max)
		if got := p.Step(attempt); got != want {
			t.Fatalf("Step(%d) = %v, want %v", attempt, got, want)
		}
		for range 50 {
			if d := p.Delay(attempt); d < want/2 || d > want {
				t.Fatalf("Delay(%d) = %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestJitterSpreads(t *testing.T) {
	p := Policy{Min: time.Second, Max: time.Second}
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[p.Delay(0)] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 delays took %d distinct values: no jitter", len(seen))
	}
}

func TestDefaultsAndHugeAttempts(t *testing.T) {
	var p Policy
	if p.Step(0) != DefaultMin || p.Step(1000) != DefaultMax {
		t.Errorf("Step(0) = %v, Step(1000) = %v", p.Step(0), p.Step(1000))
	}
	if got := (Policy{Min: time.Second, Max: time.Millisecond}).Step(3); got != time.Second {
		t.Errorf("Max below Min: Step = %v, want Min", got)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Policy{Min: time.Hour, Max: time.Hour}).Wait(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a canceled ctx: %v", err)
	}
	if err := (Policy{Min: time.Microsecond, Max: time.Microsecond}).Wait(context.Background(), 0); err != nil {
		t.Errorf("Wait: %v", err)
	}
}
