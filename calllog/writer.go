package calllog

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrClosed is reported (logged, counted as lost) for Append after Close, and
// returned by a second Close.
var ErrClosed = errors.New("calllog: writer closed")

// ErrLost is wrapped by Close's error when entries were dropped during the
// writer's life (Redis unavailable and spool unwritable, or corrupt spool
// lines).
var ErrLost = errors.New("calllog: entries lost")

// Writer writes call log entries to Redis off the call path. See the package
// documentation for the guarantees.
type Writer struct {
	cfg    Config
	keys   Keys
	client redis.UniversalClient // nil = no Redis: everything waits in the spool
	logger *slog.Logger
	id     string // stable writer id; prefix of every entry id and segment name
	sha    string // SHA1 of writeScript
	spool  *spool
	stats  counters

	mu       sync.Mutex
	queue    []record
	seq      uint64
	spills   [][]record // full queues handed from Append to the spiller, oldest first
	spillLen int
	maxSpill int  // spillLen above which Append writes the spool itself
	spooling bool // entries must go behind the spool, not straight to Redis
	closed   bool

	spillWake chan struct{} // cap 1: "spills has something"
	spillQuit chan struct{}
	spillDone chan struct{}

	wake    chan struct{}        // cap 1: "the queue has something"
	closing chan context.Context // Close hands its ctx to the loop
	done    chan struct{}        // closed when the loop has exited
	result  chan error           // the loop's final error, read by Close
	once    sync.Once
}

// NewWriter starts a writer. client may be nil: entries then wait in the
// spool (and reach Tee), e.g. for the demo. Existing spool segments (from a
// previous process) are replayed first, in order, once Redis answers.
func NewWriter(cfg Config, client redis.UniversalClient, logger *slog.Logger) (*Writer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("calllog: writer id: %w", err)
	}
	sum := sha1.Sum([]byte(writeScript))
	w := &Writer{
		cfg:       cfg,
		keys:      cfg.keys(),
		client:    client,
		logger:    logger.With("component", "calllog", "stream", cfg.Stream),
		id:        fmt.Sprintf("%016x%s", time.Now().UnixNano(), hex.EncodeToString(rnd[:])),
		sha:       hex.EncodeToString(sum[:]),
		wake:      make(chan struct{}, 1),
		spillWake: make(chan struct{}, 1),
		spillQuit: make(chan struct{}),
		spillDone: make(chan struct{}),
		maxSpill:  16 * cfg.QueueSize,
		closing:   make(chan context.Context),
		done:      make(chan struct{}),
		result:    make(chan error, 1),
	}
	w.spool, err = openSpool(cfg.SpoolDir, cfg.SegmentBytes, w.logger, &w.stats)
	if err != nil {
		return nil, err
	}
	// Leftover segments are older than anything this writer will append.
	w.spooling = w.stats.segments.Load() > 0 || client == nil
	if err := w.stats.register(cfg.Registerer, cfg.Stream, func() float64 {
		w.mu.Lock()
		defer w.mu.Unlock()
		return float64(len(w.queue))
	}); err != nil {
		return nil, err
	}
	go w.spiller()
	go w.run()
	return w, nil
}

// ID is this writer's id: the prefix of the "id" field of its entries.
func (w *Writer) ID() string { return w.id }

// Keys returns the key names this writer writes.
func (w *Writer) Keys() Keys { return w.keys }

// Stats returns a snapshot of the counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	queued := len(w.queue)
	w.mu.Unlock()
	return Stats{
		Appended: w.stats.appended.Load(), Written: w.stats.written.Load(),
		Duplicates: w.stats.duplicates.Load(), Spooled: w.stats.spooled.Load(),
		Replayed: w.stats.replayed.Load(), Lost: w.stats.lost.Load(),
		SpoolErrors: w.stats.spoolErrors.Load(), RedisErrors: w.stats.redisErrors.Load(),
		Queued: queued, Segments: int(w.stats.segments.Load()),
	}
}

// Append hands an entry to the writer and returns at once. It never does
// network I/O and never waits for Redis or for the writer goroutine: it takes
// a mutex held only for O(1) queue work. When QueueSize entries already wait,
// it hands the whole queue to the spiller goroutine (O(1) too); only if the
// spiller is more than 16*QueueSize entries behind (the disk cannot keep up)
// does the caller write those entries to the spool itself (write(2) into the
// page cache, no fsync) — back-pressure instead of unbounded memory.
// Entries of one call must be appended from one goroutine (or otherwise in
// order); they reach Redis in that order.
func (w *Writer) Append(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if w.cfg.Tee != nil {
		w.cfg.Tee(e)
	}
	w.stats.appended.Add(1)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.stats.lost.Add(1)
		w.logger.Error("calllog: entry appended after Close, lost", "call", e.Call, "kind", e.Kind, "err", ErrClosed)
		return
	}
	w.seq++
	r := newRecord(w.id, w.seq, e)
	if len(w.queue) < w.cfg.QueueSize {
		w.queue = append(w.queue, r)
		w.mu.Unlock()
		w.signal()
		return
	}
	// Queue full: the writer is behind (Redis slow or down). Hand the whole
	// queue plus this entry to the spiller goroutine, which writes it to the
	// spool, and make the writer put everything after it behind the spool.
	// Only when the spiller itself is more than maxSpill entries behind (the
	// disk cannot keep up) does this caller write to the spool itself.
	w.spills = append(w.spills, append(w.queue, r))
	w.spillLen += len(w.queue) + 1
	w.queue = make([]record, 0, min(w.cfg.QueueSize, 1024))
	w.spooling = true
	over := w.spillLen > w.maxSpill
	w.mu.Unlock()
	if over {
		w.flushToSpool(false)
	} else {
		select {
		case w.spillWake <- struct{}{}:
		default:
		}
	}
	w.signal()
}

// spiller writes spill batches handed over by Append to the spool.
func (w *Writer) spiller() {
	defer close(w.spillDone)
	for {
		select {
		case <-w.spillWake:
			w.flushToSpool(false)
			w.signal() // the writer fsyncs
		case <-w.spillQuit:
			w.flushToSpool(false)
			return
		}
	}
}

// flushToSpool appends pending spill batches, and the queue if withQueue, to
// the spool, oldest first. Lock order everywhere: spool.mu, then w.mu; taking
// the batches under both keeps concurrent flushes in sequence order.
func (w *Writer) flushToSpool(withQueue bool) {
	w.spool.mu.Lock()
	defer w.spool.mu.Unlock()
	w.mu.Lock()
	batches := w.spills
	w.spills, w.spillLen = nil, 0
	if withQueue && len(w.queue) > 0 {
		batches = append(batches, w.queue)
		w.queue = make([]record, 0, min(w.cfg.QueueSize, 1024))
	}
	w.mu.Unlock()
	for _, b := range batches {
		w.spooled(b, w.spool.appendLocked(b))
	}
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// spooled accounts for a spool write and reports its failure loudly.
func (w *Writer) spooled(batch []record, err error) {
	if err == nil {
		w.stats.spooled.Add(uint64(len(batch)))
		return
	}
	w.stats.spoolErrors.Add(1)
	w.stats.lost.Add(uint64(len(batch)))
	w.logger.Error("calllog: spool write failed; entries LOST (Redis unavailable and spool unwritable)",
		"entries", len(batch), "first_id", batch[0].id(), "last_id", batch[len(batch)-1].id(), "err", err)
}

// Close flushes everything: queued entries go to Redis if it answers before
// ctx ends, else to the spool; spooled entries are replayed while Redis
// answers and ctx allows. Whatever is not in Redis when Close returns is in
// the spool, and a later Writer on the same SpoolDir replays it. Close returns
// an error wrapping ErrLost if any entry was lost during the writer's life, a
// spool close error, or ErrClosed on a second call.
func (w *Writer) Close(ctx context.Context) error {
	err := ErrClosed
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.spillQuit)
		<-w.spillDone
		w.closing <- ctx
		<-w.done
		err = <-w.result
	})
	return err
}

// run is the writer goroutine: it owns the order in which entries reach Redis.
//
// Order invariant: entries get their sequence number under w.mu in Append, the
// queue is in sequence order, and the writer sends entries to Redis only in
// sequence order: either straight from the queue (when nothing is spooled) or
// by replaying closed segments in name (= sequence) order, then switching back
// to the queue only when the spool is empty. A batch in flight when Redis
// fails is spooled as its own closed segment, which sorts before anything
// spilled meanwhile.
func (w *Writer) run() {
	defer close(w.done)
	var nextProbe time.Time // zero: probe at once when spooling
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var wait <-chan time.Time
		w.mu.Lock()
		spooling := w.spooling
		w.mu.Unlock()
		if spooling && w.client != nil {
			d := time.Until(nextProbe)
			if d <= 0 {
				d = 0
			}
			timer.Reset(d)
			wait = timer.C
		}
		select {
		case <-w.wake:
		case <-wait:
		case ctx := <-w.closing:
			w.result <- w.finish(ctx)
			return
		}
		timer.Stop()
		nextProbe = w.cycle(context.Background(), nextProbe)
	}
}

// cycle does one round of work and returns when to probe Redis next.
func (w *Writer) cycle(ctx context.Context, nextProbe time.Time) time.Time {
	w.mu.Lock()
	if !w.spooling {
		batch := w.queue
		w.queue = make([]record, 0, min(w.cfg.QueueSize, 1024))
		w.mu.Unlock()
		if err := w.writeLive(ctx, batch); err != nil {
			return time.Now().Add(w.cfg.RetryInterval)
		}
		return nextProbe
	}
	w.mu.Unlock()
	w.drainToSpool()
	if w.client == nil || time.Now().Before(nextProbe) {
		return nextProbe
	}
	if err := w.replay(ctx); err != nil {
		return time.Now().Add(w.cfg.RetryInterval)
	}
	return time.Time{}
}

// drainToSpool moves the queue to the active segment (spooling mode) and
// fsyncs it.
func (w *Writer) drainToSpool() {
	w.flushToSpool(true)
	if err := w.spool.sync(); err != nil {
		w.stats.spoolErrors.Add(1)
		w.logger.Error("calllog: spool sync failed", "err", err)
	}
}

// writeLive sends queued entries to Redis. On failure the unsent rest (from
// the failed chunk on) becomes a closed spool segment and the writer switches
// to spooling.
func (w *Writer) writeLive(ctx context.Context, batch []record) error {
	for start := 0; start < len(batch); start += w.cfg.BatchSize {
		chunk := batch[start:min(start+w.cfg.BatchSize, len(batch))]
		written, dup, err := w.write(ctx, chunk)
		if err == nil {
			w.stats.written.Add(uint64(written))
			w.stats.duplicates.Add(uint64(dup))
			continue
		}
		rest := batch[start:]
		w.stats.redisErrors.Add(1)
		w.logger.Warn("calllog: Redis write failed; spooling", "entries", len(rest), "err", err)
		w.mu.Lock()
		w.spooling = true
		w.mu.Unlock()
		w.spooled(rest, w.spool.writeClosed(rest))
		return err
	}
	return nil
}

// replay writes closed segments to Redis in order, then switches back to live
// writing once no segment is left. It drains the queue to the spool between
// segments so Append rarely has to spill.
func (w *Writer) replay(ctx context.Context) error {
	if err := w.probe(ctx); err != nil {
		w.stats.redisErrors.Add(1)
		w.logger.Debug("calllog: Redis still unavailable", "err", err)
		return err
	}
	for {
		if err := w.spool.rotate(); err != nil {
			w.stats.spoolErrors.Add(1)
			w.logger.Error("calllog: spool rotate failed", "err", err)
			return err
		}
		names, err := w.spool.closedSegments()
		if err != nil {
			w.stats.spoolErrors.Add(1)
			w.logger.Error("calllog: spool list failed", "err", err)
			return err
		}
		for _, name := range names {
			if err := w.replaySegment(ctx, name); err != nil {
				return err
			}
			w.drainToSpool()
		}
		// Back to live only if nothing was spooled since the rotation: then
		// Redis has every older entry and the queue holds only newer ones.
		w.spool.mu.Lock()
		w.mu.Lock()
		if !w.spool.hasActiveLocked() && w.stats.segments.Load() == 0 && len(w.spills) == 0 {
			w.spooling = false
		}
		live := !w.spooling
		w.mu.Unlock()
		w.spool.mu.Unlock()
		if live {
			w.logger.Info("calllog: spool replayed; writing to Redis directly again")
			w.signal()
			return nil
		}
	}
}

func (w *Writer) replaySegment(ctx context.Context, name string) error {
	recs, err := w.spool.read(name)
	if err != nil {
		w.stats.spoolErrors.Add(1)
		w.logger.Error("calllog: spool read failed", "segment", name, "err", err)
		return err
	}
	for start := 0; start < len(recs); start += w.cfg.BatchSize {
		chunk := recs[start:min(start+w.cfg.BatchSize, len(recs))]
		written, dup, err := w.write(ctx, chunk)
		if err != nil {
			// The segment stays; the next replay starts it over and dedupe
			// skips what this one wrote.
			w.stats.redisErrors.Add(1)
			w.logger.Warn("calllog: replay interrupted", "segment", name, "err", err)
			return err
		}
		w.stats.written.Add(uint64(written))
		w.stats.duplicates.Add(uint64(dup))
		w.stats.replayed.Add(uint64(len(chunk)))
	}
	if err := w.spool.remove(name); err != nil {
		w.stats.spoolErrors.Add(1)
		w.logger.Error("calllog: spool segment not removed (will be replayed again, dedupe skips it)", "err", err)
		return err
	}
	return nil
}

// probe checks that Redis answers and has the script loaded (a restarted
// Redis has an empty script cache; in a Cluster ScriptLoad goes to every
// master).
func (w *Writer) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	defer cancel()
	if err := w.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("calllog: ping: %w", err)
	}
	if err := w.client.ScriptLoad(ctx, writeScript).Err(); err != nil {
		return fmt.Errorf("calllog: script load: %w", err)
	}
	return nil
}

// write sends one chunk (one script call per shard, pipelined) and returns
// how many entries were new and how many Redis already had.
func (w *Writer) write(ctx context.Context, recs []record) (written, dup int, err error) {
	if w.client == nil {
		return 0, 0, errors.New("calllog: no Redis client")
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	defer cancel()
	written, dup, err = w.writeOnce(ctx, recs)
	if err != nil && isNoScript(err) {
		if lerr := w.client.ScriptLoad(ctx, writeScript).Err(); lerr != nil {
			return 0, 0, fmt.Errorf("calllog: script load: %w", lerr)
		}
		written, dup, err = w.writeOnce(ctx, recs)
	}
	return written, dup, err
}

func isNoScript(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NOSCRIPT")
}

func (w *Writer) writeOnce(ctx context.Context, recs []record) (written, dup int, err error) {
	groups := make(map[int][]*record, 1)
	var order []int
	for i := range recs {
		s := w.keys.Shard(recs[i].Call)
		if _, ok := groups[s]; !ok {
			order = append(order, s)
		}
		groups[s] = append(groups[s], &recs[i])
	}
	pipe := w.client.Pipeline()
	cmds := make([]*redis.Cmd, 0, len(order))
	for _, s := range order {
		keys, args := w.scriptArgs(s, groups[s])
		cmds = append(cmds, pipe.EvalSha(ctx, w.sha, keys, args...))
	}
	_, perr := pipe.Exec(ctx)
	for _, c := range cmds {
		res, cerr := c.Int64Slice()
		if cerr != nil {
			err = errors.Join(err, cerr)
			continue
		}
		if len(res) == 2 {
			written += int(res[0])
			dup += int(res[1])
		}
	}
	if err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return written, dup, fmt.Errorf("calllog: write batch: %w", err)
	}
	return written, dup, nil
}

func (w *Writer) scriptArgs(shard int, recs []*record) ([]string, []any) {
	keys := make([]string, 0, 1+2*len(recs))
	keys = append(keys, w.keys.StreamKey(shard))
	args := make([]any, 0, 3+len(recs)*32)
	args = append(args, w.cfg.MaxLen, int64(w.cfg.DedupeTTL/time.Second), int64(w.cfg.SummaryTTL/time.Second))
	for _, r := range recs {
		dkey := w.keys.DedupeKey(r.Call)
		skey := w.keys.SummaryKey(r.Call)
		hasSummary := "1"
		if skey == "" {
			skey, hasSummary = dkey, "0"
		}
		keys = append(keys, dkey, skey)
		fields := r.streamFields()
		args = append(args, r.Writer, strconv.FormatUint(r.Seq, 10), len(fields))
		for _, f := range fields {
			args = append(args, f)
		}
		var sum summaryUpdate
		if hasSummary == "1" {
			sum = r.summary()
		}
		args = append(args, len(sum.set))
		for _, f := range sum.set {
			args = append(args, f)
		}
		isErr := "0"
		if sum.isError {
			isErr = "1"
		}
		args = append(args, sum.pathAppend, isErr, hasSummary)
	}
	return keys, args
}

// closeAttempts bounds the replay attempts of Close.
const closeAttempts = 3

// finish is the last cycle, under Close's ctx: flush the queue, replay what
// Redis takes before ctx ends, and leave the rest in the spool.
func (w *Writer) finish(ctx context.Context) error {
	w.mu.Lock()
	spooling := w.spooling
	w.mu.Unlock()
	if !spooling {
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		if err := w.writeLive(ctx, batch); err != nil {
			spooling = true
		}
	}
	if spooling {
		w.drainToSpool()
		// A few attempts: after a Redis restart the first commands may hit
		// dead pooled connections. Failures are counted and logged; the
		// entries stay spooled for the next Writer.
		for attempt := 0; w.client != nil && attempt < closeAttempts && ctx.Err() == nil; attempt++ {
			if w.replay(ctx) == nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(w.cfg.RetryInterval):
			}
		}
	}
	var err error
	if cerr := w.spool.close(); cerr != nil {
		w.stats.spoolErrors.Add(1)
		w.logger.Error("calllog: spool close failed", "err", cerr)
		err = cerr
	}
	if n := w.stats.segments.Load(); n > 0 {
		w.logger.Info("calllog: entries left in the spool for the next start", "segments", n, "dir", w.cfg.SpoolDir)
	}
	if lost := w.stats.lost.Load(); lost > 0 {
		err = errors.Join(err, fmt.Errorf("%w: %d entries since NewWriter (see error logs)", ErrLost, lost))
	}
	return err
}
