package calllog

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// shardWriter writes the entries of one shard (Config.Shards) to Redis, with
// its own queue, spool segments, probe and goroutine: in a Redis Cluster a
// dead master spools only the entries of the shards it serves, and the other
// shards keep writing.
//
// Order invariant: entries get their sequence number under mu, the queue is
// in sequence order, and the goroutine sends entries to Redis only in
// sequence order: either straight from the queue (when nothing is spooled) or
// by replaying closed segments in name (= sequence) order, then switching back
// to the queue only when no owned segment is left on disk. A batch in flight
// when Redis fails is spooled as its own closed segment, which sorts before
// anything spooled meanwhile.
type shardWriter struct {
	w      *Writer
	index  int
	id     string // writer id of this shard's records
	spool  *spool
	logger *slog.Logger

	mu    sync.Mutex
	queue []record
	// spare is a drained queue kept for the next swap (see newQueue): a
	// fresh 1,024-record slice per write cycle was 80 % of ivrd's
	// allocations under load, and the GC work that came with it.
	spare    []record
	seq      uint64
	spooling bool // entries go to the spool, behind what is already there
	closed   bool
	spilled  uint64 // highest sequence the spiller has handed to the spool
	// spilledCh is closed (and replaced) after every spill, waking Appends.
	spilledCh chan struct{}

	// acked is the highest own sequence known to be in Redis. The mark file
	// gets it only when it matters (see setMark): before own records are
	// spooled and while the shard spools.
	acked atomic.Uint64

	expect map[string]uint64 // next sequence expected per earlier writer, for gap counts (goroutine only)
	encs   encoders          // the goroutine's batch encoders

	full chan struct{} // cap 1: "the queue holds a batch", ends the coalescing wait

	wake      chan struct{} // cap 1: "something to do"
	spillWake chan struct{} // cap 1: "the spooling queue has something"
	spillQuit chan struct{}
	spillDone chan struct{}
	stopping  chan struct{}   // closed by Close: the run loop's replay yields
	runCtx    context.Context // bounds the run loop's writes; cancelled when Close's ctx ends
	stopRun   context.CancelFunc
	closing   chan context.Context
	done      chan struct{}
	result    chan error
}

func (s *shardWriter) start() {
	s.stopping = make(chan struct{})
	s.runCtx, s.stopRun = context.WithCancel(context.Background())
	s.wake = make(chan struct{}, 1)
	s.full = make(chan struct{}, 1)
	s.closing = make(chan context.Context)
	s.done = make(chan struct{})
	s.result = make(chan error, 1)
	s.expect = map[string]uint64{}
	s.spilledCh = make(chan struct{})
	s.spillWake = make(chan struct{}, 1)
	s.spillQuit = make(chan struct{})
	s.spillDone = make(chan struct{})
	go s.spiller()
	go s.run()
}

func (s *shardWriter) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// newQueue returns an empty queue to swap in for the one taken (the caller
// holds mu): the spare if there is one, else a new slice with room for as
// many records as the queue it replaces held (at least 64): during a burst
// the next queue fills about as much, and growing it from 64 records by
// doubling (copying and scanning them each time) was a sixth of the
// client's CPU in BenchmarkWrite.
func (s *shardWriter) newQueue() []record {
	if q := s.spare; q != nil {
		s.spare = nil
		return q
	}
	return make([]record, 0, min(s.w.cfg.QueueSize, max(64, len(s.queue))))
}

// recycle keeps batch (taken from the queue and done with: written or
// spooled) as the spare queue. Its records are cleared so that it pins no
// entry's strings; a batch grown past maxSpareRecords is left to the GC, so
// a burst does not keep its peak.
func (s *shardWriter) recycle(batch []record) {
	if cap(batch) > maxSpareRecords {
		return
	}
	clear(batch)
	s.mu.Lock()
	if s.spare == nil {
		s.spare = batch[:0]
	}
	s.mu.Unlock()
}

const maxSpareRecords = 1024

// append queues e. While this shard spools, it then waits (at most
// spoolWaitBound) until the spiller has written e to the spool — group
// commit: one write(2) into the page cache for every entry waiting, so an
// entry Append returned for survives a crash of this process (the goroutine
// fsyncs for power loss).
func (s *shardWriter) append(e *Entry) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.w.lostAfterClose(e)
		return
	}
	s.seq++
	seq := s.seq
	s.queue = append(s.queue, newRecord(s.id, seq, *e))
	if n := len(s.queue); !s.spooling && n <= s.w.cfg.QueueSize {
		s.mu.Unlock()
		if n == s.fullAt() {
			select {
			case s.full <- struct{}{}:
			default:
			}
		}
		s.signal()
		return
	}
	// Spooling, or the queue is full (the goroutine is behind: Redis slow or
	// down); from here on this shard's entries go behind the spool.
	s.spooling = true
	s.mu.Unlock()
	select {
	case s.spillWake <- struct{}{}:
	default:
	}
	s.waitSpilled(seq)
}

// fullAt is the queue length that ends the goroutine's coalescing wait: a
// whole batch (or a whole queue, if that is smaller).
func (s *shardWriter) fullAt() int { return min(s.w.cfg.BatchSize, s.w.cfg.QueueSize) }

// spoolWaitBound bounds how long Append waits for the spiller: a disk slower
// than that costs the guarantee for those entries (they are written moments
// later), never Append's bound.
const spoolWaitBound = AppendBound / 10

func (s *shardWriter) waitSpilled(seq uint64) {
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		done := s.spilled >= seq || s.closed || !s.spooling // back to live: written from the queue
		ch := s.spilledCh
		s.mu.Unlock()
		if done {
			return
		}
		if timeout == nil {
			t := time.NewTimer(spoolWaitBound)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
			return
		}
	}
}

// spiller writes the queue of a spooling shard to the spool whenever Append
// asks, so Append never writes the disk under contention itself.
func (s *shardWriter) spiller() {
	defer close(s.spillDone)
	for {
		select {
		case <-s.spillWake:
			s.flushQueueToSpool()
			s.signal() // the goroutine fsyncs
		case <-s.spillQuit:
			return
		}
	}
}

// flushQueueToSpool moves the queue of a spooling shard to the active
// segment and wakes the Appends waiting for it.
func (s *shardWriter) flushQueueToSpool() {
	s.spool.mu.Lock()
	defer s.spool.mu.Unlock()
	s.mu.Lock()
	if !s.spooling || len(s.queue) == 0 {
		s.mu.Unlock()
		return
	}
	batch := s.queue
	s.queue = s.newQueue()
	s.mu.Unlock()
	s.markBeforeSpoolLocked()
	s.spoolBatchLocked(batch)
	s.mu.Lock()
	s.spilled = batch[len(batch)-1].Seq // on failure too: the loss is counted, nobody waits for it
	close(s.spilledCh)
	s.spilledCh = make(chan struct{})
	s.mu.Unlock()
	s.recycle(batch)
}

// spoolBatchLocked appends batch to the active segment (the caller holds
// spool.mu). If the write fails (disk full), the records are tried one by one
// so that only those the disk cannot take are lost.
func (s *shardWriter) spoolBatchLocked(batch []record) {
	err := s.spool.appendLocked(batch)
	if err == nil || len(batch) == 1 {
		s.spooled(batch, err)
		return
	}
	for i := range batch {
		if err := s.spool.appendLocked(batch[i : i+1]); err != nil {
			s.spooled(batch[:i], nil)
			s.spooled(batch[i:], err)
			return
		}
	}
	s.spooled(batch, nil)
}

// spooled accounts for a spool write and reports its failure loudly.
func (s *shardWriter) spooled(batch []record, err error) {
	st := &s.w.stats
	if len(batch) == 0 {
		return
	}
	if err == nil {
		st.spooled.Add(uint64(len(batch)))
		return
	}
	st.spoolErrors.Add(1)
	st.lost.Add(uint64(len(batch)))
	s.logger.Error("calllog: spool write failed; entries LOST (Redis unavailable and spool unwritable)",
		"entries", len(batch), "first_id", batch[0].id(), "last_id", batch[len(batch)-1].id(), "err", err)
}

func (s *shardWriter) isSpooling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spooling
}

// run is the shard's goroutine: it owns the order in which entries reach
// Redis.
func (s *shardWriter) run() {
	defer close(s.done)
	var nextProbe time.Time // zero: probe at once when spooling
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	for {
		var wait <-chan time.Time
		if s.isSpooling() && s.w.client != nil {
			timer.Reset(max(time.Until(nextProbe), 0))
			wait = timer.C
		}
		select {
		case <-s.wake:
		case <-wait:
		case ctx := <-s.closing:
			s.result <- s.finish(ctx)
			return
		}
		timer.Stop()
		if ctx, closing := s.coalesce(linger); closing {
			s.result <- s.finish(ctx)
			return
		}
		nextProbe = s.cycle(nextProbe)
	}
}

// coalesce waits, before a live write of less than a batch, up to
// Config.FlushDelay for more entries: at a moderate rate every few entries
// were their own round trip (a script call, a write and a read syscall, the
// client's allocations), most of the writer's CPU. The wait ends early when
// the queue holds a batch, and at once for Close (closing is then true and
// ctx is Close's); Append never waits for it.
func (s *shardWriter) coalesce(linger *time.Timer) (ctx context.Context, closing bool) {
	d := s.w.cfg.FlushDelay
	if d <= 0 || s.w.client == nil {
		return nil, false
	}
	select {
	case <-s.full: // a stale "full" from the last round
	default:
	}
	s.mu.Lock()
	wait := !s.spooling && len(s.queue) > 0 && len(s.queue) < s.fullAt()
	s.mu.Unlock()
	if !wait {
		return nil, false
	}
	linger.Reset(d)
	defer linger.Stop()
	select {
	case <-linger.C:
	case <-s.full:
	case <-s.stopping:
	case ctx := <-s.closing:
		return ctx, true
	}
	return nil, false
}

// cycle does one round of work and returns when to probe Redis next.
func (s *shardWriter) cycle(nextProbe time.Time) time.Time {
	// Each write is bounded by WriteTimeout, and by Close's ctx once Close
	// began: a write cut short leaves its entries spooled (replay dedupes
	// whatever reached Redis).
	ctx := s.runCtx
	s.mu.Lock()
	if !s.spooling {
		batch := s.queue
		s.queue = s.newQueue()
		s.mu.Unlock()
		err := s.writeLive(ctx, batch)
		s.recycle(batch)
		if err != nil {
			return time.Now().Add(s.w.cfg.RetryInterval)
		}
		return nextProbe
	}
	s.mu.Unlock()
	s.drainToSpool()
	if s.w.client == nil || time.Now().Before(nextProbe) {
		return nextProbe
	}
	if err := s.replay(ctx, s.stopRequested); err != nil {
		return time.Now().Add(s.w.cfg.RetryInterval)
	}
	return time.Time{}
}

// stopRequested reports whether Close has begun: the run loop's replay then
// yields to finish, which replays under Close's ctx.
func (s *shardWriter) stopRequested() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// drainToSpool moves the queue to the active segment and fsyncs it.
func (s *shardWriter) drainToSpool() {
	s.flushQueueToSpool()
	if err := s.spool.sync(); err != nil {
		s.w.stats.spoolErrors.Add(1)
		s.logger.Error("calllog: spool sync failed", "err", err)
	}
}

// setMark records that every own entry up to seq is in Redis. The mark file
// is only read for the gap count of the next start, which compares it with
// the sequences in the segments this writer leaves: it must be current
// whenever an own record reaches a segment, never otherwise. So it is
// written here only while the shard spools, and before any own record is
// spooled (markBeforeSpool), not once per batch: that pwrite per batch was
// a good part of the writer's syscalls at a moderate rate.
func (s *shardWriter) setMark(seq uint64) {
	if seq <= s.acked.Load() {
		return
	}
	s.acked.Store(seq)
	if s.isSpooling() {
		s.writeMark(s.spool.setMark(s.id, seq))
	}
}

// markBeforeSpoolLocked writes the mark (the caller holds spool.mu) before
// own records go to the spool.
func (s *shardWriter) markBeforeSpoolLocked() {
	s.writeMark(s.spool.setMarkLocked(s.id, s.acked.Load()))
}

func (s *shardWriter) writeMark(err error) {
	if err != nil {
		s.w.stats.spoolErrors.Add(1)
		s.logger.Warn("calllog: mark file not written (a restart may count a false gap)", "err", err)
	}
}

// writeLive sends queued entries to Redis. On failure the unsent rest (from
// the failed chunk on) becomes a closed spool segment and the shard switches
// to spooling.
//
// Several batches go in one pipelined round trip; the script refuses each
// unless the one before it was applied, so what Redis acknowledged is a
// prefix of batch and everything after it is spooled, in order.
func (s *shardWriter) writeLive(ctx context.Context, batch []record) error {
	if len(batch) == 0 {
		return nil
	}
	acked, written, dup, err := s.w.writeChunks(ctx, &s.encs, s.index, batch, s.w.cfg.BatchSize)
	s.w.stats.written.Add(uint64(written))
	s.w.stats.duplicates.Add(uint64(dup))
	if acked > 0 {
		s.setMark(batch[acked-1].Seq)
	}
	if err == nil {
		return nil
	}
	rest := batch[acked:]
	s.w.stats.redisErrors.Add(1)
	s.w.noteRedisError(err)
	s.logger.Warn("calllog: Redis write failed; spooling this shard", "entries", len(rest), "err", err)
	s.spool.mu.Lock()
	s.markBeforeSpoolLocked()
	s.spool.mu.Unlock()
	s.mu.Lock()
	s.spooling = true
	s.mu.Unlock()
	kept, serr := s.spool.writeClosed(rest)
	s.spooled(rest[:kept], nil)
	s.spooled(rest[kept:], serr)
	return err
}

// replay writes the owned closed segments to Redis in order, then switches
// back to live writing once none is left on disk. Every round lists the
// directory again, so segments removed behind its back simply end the
// spooling; abort (Close began, or Close's ctx ended) stops it between
// segments, and each write is bounded by ctx and WriteTimeout.
func (s *shardWriter) replay(ctx context.Context, abort func() bool) error {
	if err := s.probe(ctx); err != nil {
		s.w.stats.redisErrors.Add(1)
		s.logger.Debug("calllog: Redis still unavailable for this shard", "err", err)
		return err
	}
	for {
		if abort() {
			return errReplayAborted
		}
		if err := s.spool.rotate(); err != nil {
			s.w.stats.spoolErrors.Add(1)
			s.logger.Error("calllog: spool rotate failed", "err", err)
			return err
		}
		names, err := s.spool.closedSegments()
		if err != nil {
			s.w.stats.spoolErrors.Add(1)
			s.logger.Error("calllog: spool list failed", "err", err)
			return err
		}
		for name, n := range s.spool.vanished(names) {
			s.w.stats.lost.Add(uint64(n))
			s.logger.Error("calllog: spool segment removed by someone else before replay; its entries are LOST",
				"segment", name, "entries", n)
		}
		if len(names) == 0 {
			// Back to live only if nothing was spooled since the rotation:
			// then Redis has every older entry and the queue holds only
			// newer ones.
			s.spool.mu.Lock()
			s.mu.Lock()
			if !s.spool.hasActiveLocked() {
				s.spooling = false
			}
			live := !s.spooling
			s.mu.Unlock()
			s.spool.mu.Unlock()
			if live {
				s.spool.dropForeignMarks()
				s.logger.Info("calllog: spool replayed; writing to Redis directly again")
				s.signal()
				return nil
			}
			continue
		}
		for _, name := range names {
			if abort() {
				return errReplayAborted
			}
			if err := s.replaySegment(ctx, name); err != nil {
				return err
			}
			s.drainToSpool()
		}
	}
}

func (s *shardWriter) replaySegment(ctx context.Context, name string) error {
	recs, err := s.spool.read(name)
	if errors.Is(err, errSegmentGone) {
		if n, own := s.spool.ownCount(name); own {
			s.w.stats.lost.Add(uint64(n))
			s.logger.Error("calllog: spool segment removed by someone else before replay; its entries are LOST",
				"segment", name, "entries", n)
		} else {
			s.logger.Error("calllog: spool segment removed by someone else before replay", "segment", name)
		}
		_ = s.spool.remove(name) // only the bookkeeping: the file is gone
		return nil
	}
	if err != nil {
		s.w.stats.spoolErrors.Add(1)
		s.spool.quarantine(name, err)
		return nil
	}
	s.countGaps(name, recs)
	for start, n := 0, 0; start < len(recs); start += n {
		n = chunkLen(recs[start:], s.w.cfg.BatchSize)
		chunk := recs[start : start+n]
		written, dup, err := s.w.write(ctx, &s.encs, chunk)
		s.w.stats.written.Add(uint64(written))
		s.w.stats.duplicates.Add(uint64(dup))
		if err != nil {
			// The segment stays; the next replay starts it over and dedupe
			// skips what this one wrote.
			s.w.stats.redisErrors.Add(1)
			s.w.noteRedisError(err)
			s.logger.Warn("calllog: replay interrupted", "segment", name, "err", err)
			return err
		}
		s.w.stats.replayed.Add(uint64(len(chunk)))
	}
	if len(recs) > 0 {
		last := recs[len(recs)-1]
		if last.Writer == s.id {
			s.setMark(last.Seq)
		} else if err := s.spool.setMark(last.Writer, last.Seq); err != nil {
			s.logger.Warn("calllog: mark file of an earlier writer not updated", "writer", last.Writer, "err", err)
		}
	}
	if err := s.spool.remove(name); err != nil {
		s.w.stats.spoolErrors.Add(1)
		s.logger.Error("calllog: spool segment not removed (will be replayed again, dedupe skips it)", "err", err)
		return err
	}
	return nil
}

// countGaps counts, for segments of earlier writers, the sequence numbers
// that are neither in Redis (up to the writer's mark) nor in its segments:
// entries that crashed process held only in memory.
func (s *shardWriter) countGaps(name string, recs []record) {
	id := segmentWriter(name)
	if id == s.id || len(recs) == 0 {
		return
	}
	next, ok := s.expect[id]
	if !ok {
		next = s.spool.readMark(id) + 1
	}
	var missing uint64
	for i := range recs {
		r := &recs[i]
		if r.Writer != id || r.legacy {
			continue
		}
		if r.Seq > next {
			missing += r.Seq - next
		}
		next = max(next, r.Seq+1)
	}
	s.expect[id] = next
	if missing > 0 {
		s.w.stats.missing.Add(missing)
		s.logger.Error("calllog: an earlier writer's entries are missing (held in memory when it died, or in a damaged or removed segment)",
			"writer", id, "missing", missing, "segment", name)
	}
}

// probe checks that this shard's Redis node answers, with the script loaded
// on that node: an EVALSHA of the write script with no entries, routed by the
// shard's stream key (so a dead master of another shard does not block it),
// falling back to EVAL when the node's script cache is empty.
func (s *shardWriter) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.w.cfg.WriteTimeout)
	defer cancel()
	return s.w.eval(ctx, s.index)
}

var errReplayAborted = errors.New("calllog: replay stopped for Close")

// closeAttempts bounds the replay attempts of Close.
const closeAttempts = 3

// finish is the last cycle, under Close's ctx: flush the queue, replay what
// Redis takes before ctx ends, and leave the rest in the spool. Every step is
// bounded by ctx or WriteTimeout, so Close returns.
func (s *shardWriter) finish(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	spooling := s.spooling
	var batch []record
	if !spooling {
		batch = s.queue
		s.queue = s.newQueue()
	}
	s.mu.Unlock()
	if !spooling {
		if err := s.writeLive(ctx, batch); err != nil {
			spooling = true
		}
	}
	if spooling {
		s.drainToSpool()
		// A few attempts: after a Redis restart the first commands may hit
		// dead pooled connections. Failures are counted and logged; the
		// entries stay spooled for the next Writer.
		for attempt := 0; s.w.client != nil && attempt < closeAttempts && ctx.Err() == nil; attempt++ {
			if s.replay(ctx, func() bool { return ctx.Err() != nil }) == nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(s.w.cfg.RetryInterval):
			}
		}
	}
	close(s.spillQuit)
	<-s.spillDone
	s.drainToSpool() // what the spiller had not taken yet
	if err := s.spool.close(); err != nil {
		s.w.stats.spoolErrors.Add(1)
		s.logger.Error("calllog: spool close failed", "err", err)
		return err
	}
	return nil
}
