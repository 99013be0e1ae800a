package cputime

import (
	"testing"
	"time"
)

// Work on the CPU shows in Process (however slowly a loaded machine lets
// it run); sleeping adds next to nothing.
func TestProcessCountsWork(t *testing.T) {
	before := Process(t)
	sum := 0
	for start := time.Now(); Process(t)-before < 20*time.Millisecond; {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("10 s of busy loop (sum %d) counted as %v of CPU", sum, Process(t)-before)
		}
		for i := range 10000 {
			sum += i
		}
	}
	after := Process(t)
	time.Sleep(50 * time.Millisecond)
	if used := Process(t) - after; used > 40*time.Millisecond {
		t.Errorf("50 ms of sleep counted as %v of CPU", used)
	}
}
