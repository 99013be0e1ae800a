package mailbox

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestOrderAndNotify(t *testing.T) {
	mb := New[int](Limits{})
	select {
	case <-mb.Notify():
		t.Fatal("Notify signaled on an empty mailbox")
	default:
	}
	for i := range 5 {
		if _, err := mb.Put(i); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-mb.Notify():
	default:
		t.Fatal("Notify not signaled after Put")
	}
	got := mb.Drain(nil)
	if len(got) != 5 {
		t.Fatalf("drained %v", got)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("drained %v: out of order", got)
		}
	}
	if mb.Len() != 0 || len(mb.Drain(nil)) != 0 {
		t.Error("mailbox not empty after Drain")
	}
}

func TestHighWaterOncePerRise(t *testing.T) {
	mb := New[int](Limits{HighWater: 3, Max: 100})
	var crossings []int
	put := func(n int) {
		for range n {
			crossed, err := mb.Put(0)
			if err != nil {
				t.Fatal(err)
			}
			if crossed {
				crossings = append(crossings, mb.Len())
			}
		}
	}
	put(10)
	if len(crossings) != 1 || crossings[0] != 4 {
		t.Fatalf("crossings at depths %v, want [4]", crossings)
	}
	mb.Drain(nil)
	put(4)
	s := mb.Stats()
	if len(crossings) != 2 || s.HighWaterCrossings != 2 || s.MaxDepth != 10 || s.Queued != 14 || s.Depth != 4 {
		t.Errorf("crossings %v stats %+v", crossings, s)
	}
}

func TestHardCap(t *testing.T) {
	mb := New[int](Limits{HighWater: 2, Max: 5})
	for i := range 4 {
		if _, err := mb.Put(i); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	if _, err := mb.Put(4); !errors.Is(err, ErrFull) {
		t.Fatalf("Put at the cap: %v, want ErrFull", err)
	}
	if got := mb.Drain(nil); len(got) != 5 {
		t.Errorf("the value that hit the cap is kept: drained %v", got)
	}
}

func TestDefaults(t *testing.T) {
	l := New[int](Limits{}).Limits()
	if l.HighWater != DefaultHighWater || l.Max != DefaultMax {
		t.Errorf("limits %+v", l)
	}
}

// A producer that never waits and a consumer that drains on Notify see
// every value exactly once, in order.
func TestConcurrentProducerConsumer(t *testing.T) {
	const n = 100_000
	mb := New[int](Limits{HighWater: n, Max: n + 1})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if _, err := mb.Put(i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	next := 0
	var buf []int
	for next < n {
		<-mb.Notify()
		buf = mb.Drain(buf[:0])
		for _, v := range buf {
			if v != next {
				t.Fatalf("got %d, want %d", v, next)
			}
			next++
		}
	}
	wg.Wait()
}

// TestDrainSince: the time returned is the first drained value's Put, not a
// later one's, and a Drain of nothing returns zero.
func TestDrainSince(t *testing.T) {
	mb := New[int](Limits{})
	if _, since := mb.DrainSince(nil); !since.IsZero() {
		t.Errorf("empty drain: since %v, want zero", since)
	}
	before := time.Now()
	if _, err := mb.Put(1); err != nil {
		t.Fatal(err)
	}
	afterFirst := time.Now()
	time.Sleep(2 * time.Millisecond)
	if _, err := mb.Put(2); err != nil {
		t.Fatal(err)
	}
	got, since := mb.DrainSince(nil)
	if len(got) != 2 {
		t.Fatalf("drained %v", got)
	}
	if since.Before(before) || since.After(afterFirst) {
		t.Errorf("since %v: not the first Put's time (between %v and %v)", since, before, afterFirst)
	}
	if _, since := mb.DrainSince(nil); !since.IsZero() {
		t.Errorf("drain after drain: since %v, want zero", since)
	}
	// The next batch's time is its own first Put.
	mark := time.Now()
	if _, err := mb.Put(3); err != nil {
		t.Fatal(err)
	}
	if _, since := mb.DrainSince(nil); since.Before(mark) {
		t.Errorf("second batch: since %v is before its first Put (%v)", since, mark)
	}
}
