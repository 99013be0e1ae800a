package calllog

import "testing"

// Issue 14: a write cycle swaps in the spare queue instead of allocating a
// new one (a fresh 1,024-record slice per cycle was most of ivrd's garbage),
// and a recycled queue pins no entry's strings.
func TestQueueRecycled(t *testing.T) {
	s := &shardWriter{w: &Writer{cfg: Config{QueueSize: DefaultQueueSize}}}
	q := s.newQueue()
	q = append(q, record{Call: "call-1", Fields: map[string]string{"a": "b"}})
	s.recycle(q)
	if got := s.newQueue(); cap(got) != cap(q) || len(got) != 0 || &got[:1][0] != &q[0] {
		t.Fatalf("recycled queue not reused: len %d cap %d", len(got), cap(got))
	}
	if q[0].Call != "" || q[0].Fields != nil {
		t.Errorf("recycled queue still holds its record: %+v", q[0])
	}
	if got := s.newQueue(); cap(got) == 0 || &got[:1][0] == &q[0] {
		t.Error("the spare was handed out twice")
	}
	big := make([]record, 1, maxSpareRecords+1)
	s.recycle(big)
	if s.spare != nil {
		t.Error("a queue grown past maxSpareRecords was kept")
	}
	// Without a spare, the new queue has room for what the one it replaces
	// held (a burst fills the next one about as much), up to QueueSize.
	s.queue = make([]record, 3000)
	if got := s.newQueue(); cap(got) < 3000 {
		t.Errorf("queue after one of 3000 records has room for %d", cap(got))
	}
	s.queue = make([]record, DefaultQueueSize+10)
	if got := s.newQueue(); cap(got) != DefaultQueueSize {
		t.Errorf("queue after an overfull one has room for %d, want QueueSize %d", cap(got), DefaultQueueSize)
	}
	s.queue = nil
	if n := testing.AllocsPerRun(100, func() { s.recycle(s.newQueue()) }); n != 0 {
		t.Errorf("swap allocates %.0f times", n)
	}
}
