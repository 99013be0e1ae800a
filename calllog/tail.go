package calllog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/internal/backoff"
)

// TailOptions configure Tail.
type TailOptions struct {
	// Stream is the full stream key. Default "{fsivr}:calls". Ignored when
	// Streams is set.
	Stream string
	// Streams, if set, are several stream keys read together, e.g. every
	// shard's stream (Keys.StreamKeys): one XREADGROUP per stream, since one
	// read across shards is CROSSSLOT in a Redis Cluster.
	Streams []string
	// Group is the consumer group, created (with MKSTREAM) if missing.
	// Default "ivrctl-tail".
	Group string
	// Consumer names this reader in the group. Default "<hostname>-<pid>".
	Consumer string
	// Start is where a newly created group starts: "$" (only new entries,
	// default) or "0" (the whole stream). It does not move an existing group.
	Start string
	// Flow and Call filter what is printed (empty = all). Entries that do not
	// match are still acknowledged: the group is this reader's.
	Flow, Call string
	// Count stops after printing this many entries (0 = no limit). Entries
	// read but not printed stay pending for this consumer (read again first
	// by the next run).
	Count int
	// Once returns when no entry is waiting instead of blocking for more.
	Once bool
	// Block is how long one XREADGROUP waits; ctx is checked between reads.
	// Default 1s.
	Block time.Duration
	// ClaimIdle, if > 0, first takes over (XAUTOCLAIM) entries that another
	// consumer of the group read but did not acknowledge for this long.
	ClaimIdle time.Duration
	// JSON prints one JSON object per line instead of the readable form.
	JSON bool
	// Retry is the backoff between attempts after a transient failure
	// (connection refused, EOF, timeouts, CLUSTERDOWN, LOADING, TRYAGAIN,
	// MASTERDOWN, READONLY, NOGROUP after a failover lost the group). Tail
	// retries until ctx ends, resuming from the consumer group: its own
	// pending entries first, then new ones. Default 100ms to 5s.
	Retry backoff.Policy
	// Logger receives a line per retry; nil discards them.
	Logger *slog.Logger
}

// TailRecord is the JSON form of one printed entry.
type TailRecord struct {
	Stream   string            `json:"stream"`
	StreamID string            `json:"stream_id"`
	Fields   map[string]string `json:"fields"`
}

// Tail follows one or several streams through a consumer group and prints
// entries to out, acknowledging each one after printing it. For each stream
// it first re-reads this consumer's pending entries (read before, not
// acknowledged), then optionally claims idle ones of other consumers, then
// reads new entries. Transient Redis failures (a failover, a restart) are
// retried with backoff, resuming from the group. It returns the number
// printed; ctx cancellation (SIGINT) is a normal end, not an error.
func Tail(ctx context.Context, client redis.UniversalClient, opts TailOptions, out io.Writer) (int, error) {
	if client == nil {
		return 0, errors.New("calllog: tail: no Redis client")
	}
	opts = opts.withDefaults()
	if err := checkNotSharded(ctx, client, opts.Streams); err != nil {
		return 0, err
	}
	t := &tailer{client: client, opts: opts, out: out}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(opts.Streams))
	var wg sync.WaitGroup
	for i, stream := range opts.Streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := t.follow(ctx, stream)
			if errors.Is(err, context.Canceled) || errors.Is(err, errTailDone) {
				err = nil
			}
			errs[i] = err
			if err != nil || t.done() {
				cancel() // an error or Count reached ends every stream
			}
		}()
	}
	wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.printed, errors.Join(errs...)
}

var errTailDone = errors.New("tail: count reached")

// ErrShardedStream is returned by Tail for a stream key that does not exist
// while the sharded streams of the same name do ("{fsivr}:calls" asked,
// "{fsivr:0}:calls" ... written): tailing it would print nothing and create
// an empty stream. Read the shards (TailOptions.Streams = Keys.StreamKeys(),
// ivrctl tail --shards N).
var ErrShardedStream = errors.New("calllog: tail: the stream is sharded")

// checkNotSharded refuses unsharded keys "{ns}:name" that do not exist when
// "{ns:0}:name" does. Lookup failures are left to the tail itself (it retries).
func checkNotSharded(ctx context.Context, client redis.UniversalClient, streams []string) error {
	for _, key := range streams {
		rest, ok := strings.CutPrefix(key, "{")
		ns, name, ok2 := strings.Cut(rest, "}:")
		if !ok || !ok2 || strings.Contains(ns, ":") {
			continue
		}
		shard0 := Keys{Namespace: ns, Stream: name, Shards: 2}.StreamKey(0)
		n, err := client.Exists(ctx, key).Result()
		if err != nil || n > 0 {
			continue
		}
		if m, err := client.Exists(ctx, shard0).Result(); err == nil && m > 0 {
			return fmt.Errorf("%w: %s does not exist but %s does — read every shard (ivrctl tail --shards N)", ErrShardedStream, key, shard0)
		}
	}
	return nil
}

func (o TailOptions) withDefaults() TailOptions {
	if len(o.Streams) == 0 {
		if o.Stream == "" {
			o.Stream = Keys{Namespace: DefaultNamespace, Stream: DefaultStream}.StreamKey(0)
		}
		o.Streams = []string{o.Stream}
	}
	if o.Group == "" {
		o.Group = "ivrctl-tail"
	}
	if o.Consumer == "" {
		host, _ := os.Hostname() // a failed lookup just gives a shorter name
		o.Consumer = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if o.Start == "" {
		o.Start = "$"
	}
	if o.Block <= 0 {
		o.Block = time.Second
	}
	if o.Retry == (backoff.Policy{}) {
		o.Retry = backoff.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// tailer is shared by the per-stream goroutines; mu guards the output and
// the count.
type tailer struct {
	client redis.UniversalClient
	opts   TailOptions
	out    io.Writer

	mu      sync.Mutex
	printed int
}

const tailBatch = 100

// want is how many entries to ask for next, so that with Count set no more
// entries are delivered to this consumer than it will print.
func (t *tailer) want() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.opts.Count > 0 {
		return int64(max(1, min(tailBatch, t.opts.Count-t.printed)))
	}
	return tailBatch
}

func (t *tailer) done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.opts.Count > 0 && t.printed >= t.opts.Count
}

// follow tails one stream, retrying transient failures until ctx ends.
func (t *tailer) follow(ctx context.Context, stream string) error {
	for attempt := 0; ; attempt++ {
		progressed, err := t.session(ctx, stream)
		if err == nil || ctx.Err() != nil || errors.Is(err, errTailDone) || !retryable(err) {
			return err
		}
		if progressed {
			attempt = 0
		}
		t.opts.Logger.Warn("calllog: tail: Redis failed; retrying from the consumer group",
			"stream", stream, "group", t.opts.Group, "attempt", attempt+1, "err", err)
		if werr := t.opts.Retry.Wait(ctx, attempt); werr != nil {
			return werr
		}
	}
}

// retryable reports whether a failure is worth a retry: anything on the
// network, and the replies a failover or restart produces.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, errTailOutput) {
		return false
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true // connection refused, EOF, timeouts, pool errors
	}
	return redis.IsClusterDownError(err) || redis.IsLoadingError(err) || redis.IsTryAgainError(err) ||
		redis.IsMasterDownError(err) || redis.IsReadOnlyError(err) || redis.HasErrorPrefix(err, "NOGROUP")
}

var errTailOutput = errors.New("calllog: tail: write output")

// session is one attempt: create the group (a failover may have lost it),
// read this consumer's pending entries, claim idle ones, then new entries.
// progressed says whether any Redis call succeeded (the backoff restarts).
func (t *tailer) session(ctx context.Context, stream string) (progressed bool, err error) {
	err = t.client.XGroupCreateMkStream(ctx, stream, t.opts.Group, t.opts.Start).Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return false, fmt.Errorf("calllog: tail: create group %s on %s: %w", t.opts.Group, stream, err)
	}
	progressed = true
	// 1. Our own pending entries (a previous run crashed, stopped at Count,
	// or this session's predecessor failed before acknowledging).
	for {
		n, err := t.read(ctx, stream, "0", -1)
		if err != nil {
			return progressed, err
		}
		if n == 0 {
			break
		}
	}
	// 2. Entries other consumers left unacknowledged.
	if t.opts.ClaimIdle > 0 {
		start := "0-0"
		for {
			msgs, next, err := t.client.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: stream, Group: t.opts.Group, Consumer: t.opts.Consumer,
				MinIdle: t.opts.ClaimIdle, Start: start, Count: t.want(),
			}).Result()
			if err != nil {
				return progressed, fmt.Errorf("calllog: tail: xautoclaim: %w", err)
			}
			if err := t.handle(ctx, stream, msgs); err != nil {
				return progressed, err
			}
			if next == "0-0" || len(msgs) == 0 {
				break
			}
			start = next
		}
	}
	// 3. New entries.
	block := t.opts.Block
	if t.opts.Once {
		block = -1 // no BLOCK argument: return at once when nothing is new
	}
	for {
		if err := ctx.Err(); err != nil {
			return progressed, err
		}
		n, err := t.read(ctx, stream, ">", block)
		if err != nil {
			return progressed, err
		}
		if n == 0 && t.opts.Once {
			return progressed, nil
		}
	}
}

// read does one XREADGROUP from id and handles what it returns.
func (t *tailer) read(ctx context.Context, stream, id string, block time.Duration) (int, error) {
	streams, err := t.client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: t.opts.Group, Consumer: t.opts.Consumer,
		Streams: []string{stream, id}, Count: t.want(), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("calllog: tail: xreadgroup %s: %w", stream, err)
	}
	n := 0
	for _, s := range streams {
		n += len(s.Messages)
		if err := t.handle(ctx, stream, s.Messages); err != nil {
			return n, err
		}
	}
	return n, nil
}

// handle prints matching messages and acknowledges every handled one. Once
// Count is reached it stops, leaving the rest pending.
func (t *tailer) handle(ctx context.Context, stream string, msgs []redis.XMessage) error {
	for _, m := range msgs {
		fields := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			fields[k] = fmt.Sprint(v)
		}
		t.mu.Lock()
		if t.opts.Count > 0 && t.printed >= t.opts.Count {
			t.mu.Unlock()
			return errTailDone
		}
		if t.match(fields) {
			if err := t.print(stream, m.ID, fields); err != nil {
				t.mu.Unlock()
				return fmt.Errorf("%w: %w", errTailOutput, err)
			}
			t.printed++
		}
		t.mu.Unlock()
		if err := t.client.XAck(ctx, stream, t.opts.Group, m.ID).Err(); err != nil {
			return fmt.Errorf("calllog: tail: xack %s: %w", m.ID, err)
		}
	}
	if t.done() {
		return errTailDone
	}
	return nil
}

func (t *tailer) match(f map[string]string) bool {
	return (t.opts.Flow == "" || f[FieldFlow] == t.opts.Flow) &&
		(t.opts.Call == "" || f[FieldCall] == t.opts.Call)
}

func (t *tailer) print(stream, id string, f map[string]string) error {
	if t.opts.JSON {
		b, err := json.Marshal(TailRecord{Stream: stream, StreamID: id, Fields: f})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(t.out, "%s\n", b)
		return err
	}
	_, err := io.WriteString(t.out, FormatEntry(id, f)+"\n")
	return err
}

// FormatEntry renders stream entry fields readably on one line:
//
//	2026-11-23T13:47:45.123Z 1700000000000-0 call=4f0c... sales@3 dtmf node=menu value=1 caller=...
//
// Values with spaces or control characters are quoted, so caller-supplied
// data cannot forge lines or terminal escapes.
func FormatEntry(id string, f map[string]string) string {
	var b strings.Builder
	b.WriteString(f[FieldTime])
	b.WriteString(" " + id)
	b.WriteString(" call=" + quoteIfNeeded(f[FieldCall]))
	flow := f[FieldFlow]
	if v := f[FieldFlowVersion]; v != "" {
		flow += "@" + v
	}
	b.WriteString(" " + quoteIfNeeded(flow))
	b.WriteString(" " + quoteIfNeeded(f[FieldKind]))
	if v := f[FieldNode]; v != "" {
		b.WriteString(" node=" + quoteIfNeeded(v))
	}
	if v := f[FieldValue]; v != "" {
		b.WriteString(" value=" + quoteIfNeeded(v))
	}
	extra := make([]string, 0, len(f))
	for k := range f {
		if !reservedFields[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		b.WriteString(" " + quoteIfNeeded(k) + "=" + quoteIfNeeded(f[k]))
	}
	return b.String()
}

func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
