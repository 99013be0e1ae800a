package calllog

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrClosed is reported (logged, counted as lost) for Append after Close, and
// returned by a second Close.
var ErrClosed = errors.New("calllog: writer closed")

// ErrLost is wrapped by Close's error when entries were dropped during the
// writer's life (Redis unavailable and spool unwritable, a spool file removed
// under the writer, Append after Close).
var ErrLost = errors.New("calllog: entries lost")

// Writer writes call log entries to Redis off the call path. See the package
// documentation for the guarantees.
type Writer struct {
	cfg    Config
	keys   Keys
	client redis.UniversalClient // nil = no Redis: everything waits in the spool
	logger *slog.Logger
	id     string // writer id; prefix of every entry id and segment name
	sha    string // SHA1 of writeScript
	stats  counters
	lock   *os.File // flock on the spool directory, held until Close
	shards []*shardWriter
	limits limiter

	movedOnce sync.Once
	closed    atomic.Bool
	once      sync.Once
}

// NewWriter starts a writer. client may be nil: entries then wait in the
// spool (and reach Tee), e.g. for the demo. Existing spool segments (from a
// previous process) are replayed first, in order, once Redis answers. It
// fails with an error wrapping ErrSpoolLocked when another writer holds
// SpoolDir.
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
	if err := os.MkdirAll(cfg.SpoolDir, 0o755); err != nil {
		return nil, fmt.Errorf("calllog: create spool dir %s: %w", cfg.SpoolDir, err)
	}
	lock, err := lockSpoolDir(cfg.SpoolDir)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum([]byte(writeScript))
	w := &Writer{
		cfg:    cfg,
		keys:   cfg.keys(),
		client: client,
		logger: logger.With("component", "calllog", "stream", cfg.Stream),
		id:     fmt.Sprintf("%016x%s", time.Now().UnixNano(), hex.EncodeToString(rnd[:])),
		sha:    hex.EncodeToString(sum[:]),
		lock:   lock,
	}
	w.limits.init(cfg)
	for k := range cfg.Shards {
		s := &shardWriter{w: w, index: k, id: w.shardID(k)}
		s.logger = w.logger
		if cfg.Shards > 1 {
			s.logger = w.logger.With("shard", k)
		}
		s.spool, err = openSpool(cfg.SpoolDir, s.id, func(id string) bool { return w.ownerOf(id) == k },
			cfg.SegmentBytes, s.logger, &w.stats)
		if err != nil {
			_ = lock.Close()
			return nil, err
		}
		// Leftover segments are older than anything this writer will append.
		s.spooling = s.spool.segments.Load() > 0 || client == nil
		s.queue = s.newQueue()
		w.shards = append(w.shards, s)
	}
	if err := w.stats.register(cfg.Registerer, cfg.Stream, w.queued, w.segmentCount); err != nil {
		_ = lock.Close()
		return nil, err
	}
	for _, s := range w.shards {
		s.start()
	}
	return w, nil
}

// shardID is the writer id of shard k's records: the writer id itself with
// one shard, "<id>s<k>" with several (ids are hex, so "s" separates).
func (w *Writer) shardID(k int) string {
	if w.cfg.Shards == 1 {
		return w.id
	}
	return w.id + "s" + strconv.Itoa(k)
}

// ownerOf is the shard that replays segments of writer id: the shard named by
// its "s<k>" suffix if this writer has it, else shard 0 (one-shard writers,
// a changed shard count, unknown names). A record is written to the shard of
// its call whichever shard replays it.
func (w *Writer) ownerOf(id string) int {
	i := strings.LastIndexByte(id, 's')
	if i < 0 {
		return 0
	}
	k, err := strconv.Atoi(id[i+1:])
	if err != nil || k < 0 || k >= w.cfg.Shards {
		return 0
	}
	return k
}

func (w *Writer) queued() float64 {
	n := 0
	for _, s := range w.shards {
		s.mu.Lock()
		n += len(s.queue)
		s.mu.Unlock()
	}
	return float64(n)
}

func (w *Writer) segmentCount() float64 {
	n := int64(0)
	for _, s := range w.shards {
		n += s.spool.segments.Load()
	}
	return float64(n)
}

// ID is this writer's id: the prefix of the "id" field of its entries.
func (w *Writer) ID() string { return w.id }

// Keys returns the key names this writer writes.
func (w *Writer) Keys() Keys { return w.keys }

// Stats returns a snapshot of the counters.
func (w *Writer) Stats() Stats {
	c := &w.stats
	return Stats{
		Appended: c.appended.Load(), Written: c.written.Load(),
		Duplicates: c.duplicates.Load(), Spooled: c.spooled.Load(),
		Replayed: c.replayed.Load(), Lost: c.lost.Load(),
		Corrupt: c.corrupt.Load(), Quarantined: c.quarantined.Load(), Missing: c.missing.Load(),
		Capped: c.capped.Load(), Truncated: c.truncated.Load(),
		SpoolErrors: c.spoolErrors.Load(), RedisErrors: c.redisErrors.Load(), TrimRefused: c.trimRefused.Load(),
		Queued: int(w.queued()), Segments: int(w.segmentCount()),
	}
}

// Append hands an entry to the writer and returns at once. It never does
// network I/O and never waits for Redis or for the writer goroutines: it
// takes its shard's mutex for O(1) queue work. While its shard's Redis is
// down (or the queue is full) it then waits until the shard's spiller has
// written the entry to the spool (group commit: one write(2) into the page
// cache for all waiting entries, no fsync), at most AppendBound/10, so a crash
// of this process loses no entry Append returned for in that state —
// back-pressure from the disk, never from Redis. Entries over the limits of
// Config (MaxEntriesPerCall,
// MaxValueBytes, MaxFields) are cut or dropped, counted and logged once per
// call. Entries of one call must be appended from one goroutine (or
// otherwise in order); they reach Redis in that order.
func (w *Writer) Append(e Entry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	w.stats.appended.Add(1)
	if !w.limits.admit(w, &e) {
		return
	}
	if w.cfg.Tee != nil {
		w.cfg.Tee(e)
	}
	w.shards[w.keys.Shard(e.Call)].append(&e)
}

func (w *Writer) lostAfterClose(e *Entry) {
	w.stats.lost.Add(1)
	w.logger.Error("calllog: entry appended after Close, lost", "call", e.Call, "kind", e.Kind, "err", ErrClosed)
}

// Close flushes everything: queued entries go to Redis if it answers before
// ctx ends, else to the spool; spooled entries are replayed while Redis
// answers and ctx allows. Whatever is not in Redis when Close returns is in
// the spool, and a later Writer on the same SpoolDir replays it. Close is
// bounded: it returns about when ctx ends (at most one WriteTimeout later)
// even if Redis hangs or the spool changed under it. It returns an error
// wrapping ErrLost if any entry was lost during the writer's life, a spool
// close error, or ErrClosed on a second call. It releases the spool lock.
func (w *Writer) Close(ctx context.Context) error {
	err := ErrClosed
	w.once.Do(func() {
		w.closed.Store(true)
		errs := make([]error, len(w.shards))
		var wg sync.WaitGroup
		for i, s := range w.shards {
			close(s.stopping)
			stop := context.AfterFunc(ctx, s.stopRun)
			defer stop()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.closing <- ctx
				<-s.done
				errs[i] = <-s.result
				s.stopRun()
			}()
		}
		wg.Wait()
		err = errors.Join(errs...)
		if n := int(w.segmentCount()); n > 0 {
			w.logger.Info("calllog: entries left in the spool for the next start", "segments", n, "dir", w.cfg.SpoolDir)
		}
		if cerr := w.lock.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("calllog: release spool lock: %w", cerr))
		}
		if lost := w.stats.lost.Load(); lost > 0 {
			err = errors.Join(err, fmt.Errorf("%w: %d entries since NewWriter (see error logs)", ErrLost, lost))
		}
	})
	return err
}

// noteRedisError logs once, at error level, a misconfiguration that spooling
// cannot outlast: a plain client talking to a Redis Cluster node.
func (w *Writer) noteRedisError(err error) {
	if _, moved := redis.IsMovedError(err); moved {
		w.movedOnce.Do(func() {
			w.logger.Error("calllog: Redis answered MOVED: it is a Cluster node but the client is a plain one; "+
				"entries are spooled until this is fixed — list the cluster nodes or build the client with calllog.NewRedisClient, which detects a cluster",
				"err", err)
		})
	}
}
