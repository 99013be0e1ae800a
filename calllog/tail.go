package calllog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"
)

// TailOptions configure Tail.
type TailOptions struct {
	// Stream is the full stream key. Default "{fsivr}:calls".
	Stream string
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
	// Count stops after printing this many entries (0 = no limit).
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
}

// TailRecord is the JSON form of one printed entry.
type TailRecord struct {
	Stream   string            `json:"stream"`
	StreamID string            `json:"stream_id"`
	Fields   map[string]string `json:"fields"`
}

// Tail follows a stream through a consumer group and prints entries to out,
// acknowledging each one after printing it. First it re-reads this
// consumer's pending entries (read before, not acknowledged), then optionally
// claims idle ones of other consumers, then reads new entries. It returns the
// number printed; ctx cancellation (SIGINT) is a normal end, not an error.
func Tail(ctx context.Context, client redis.UniversalClient, opts TailOptions, out io.Writer) (int, error) {
	if client == nil {
		return 0, errors.New("calllog: tail: no Redis client")
	}
	opts = opts.withDefaults()
	t := &tailer{client: client, opts: opts, out: out}
	err := client.XGroupCreateMkStream(ctx, opts.Stream, opts.Group, opts.Start).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return 0, fmt.Errorf("calllog: tail: create group %s on %s: %w", opts.Group, opts.Stream, err)
	}
	err = t.run(ctx)
	if errors.Is(err, context.Canceled) || errors.Is(err, errTailDone) {
		err = nil
	}
	return t.printed, err
}

var errTailDone = errors.New("tail: count reached")

func (o TailOptions) withDefaults() TailOptions {
	if o.Stream == "" {
		o.Stream = Keys{Namespace: DefaultNamespace, Stream: DefaultStream}.StreamKey(0)
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
	return o
}

type tailer struct {
	client  redis.UniversalClient
	opts    TailOptions
	out     io.Writer
	printed int
}

const tailBatch = 100

// want is how many entries to ask for next, so that with Count set no more
// entries are delivered to this consumer than it will print.
func (t *tailer) want() int64 {
	if t.opts.Count > 0 {
		return int64(min(tailBatch, t.opts.Count-t.printed))
	}
	return tailBatch
}

func (t *tailer) run(ctx context.Context) error {
	// 1. Our own pending entries (a previous run crashed or stopped at Count).
	for {
		n, err := t.read(ctx, "0", -1)
		if err != nil {
			return err
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
				Stream: t.opts.Stream, Group: t.opts.Group, Consumer: t.opts.Consumer,
				MinIdle: t.opts.ClaimIdle, Start: start, Count: t.want(),
			}).Result()
			if err != nil {
				return fmt.Errorf("calllog: tail: xautoclaim: %w", err)
			}
			if err := t.handle(ctx, msgs); err != nil {
				return err
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
			return err
		}
		n, err := t.read(ctx, ">", block)
		if err != nil {
			return err
		}
		if n == 0 && t.opts.Once {
			return nil
		}
	}
}

// read does one XREADGROUP from id and handles what it returns.
func (t *tailer) read(ctx context.Context, id string, block time.Duration) (int, error) {
	streams, err := t.client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: t.opts.Group, Consumer: t.opts.Consumer,
		Streams: []string{t.opts.Stream, id}, Count: t.want(), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("calllog: tail: xreadgroup: %w", err)
	}
	n := 0
	for _, s := range streams {
		n += len(s.Messages)
		if err := t.handle(ctx, s.Messages); err != nil {
			return n, err
		}
	}
	return n, nil
}

// handle prints matching messages and acknowledges every handled one.
func (t *tailer) handle(ctx context.Context, msgs []redis.XMessage) error {
	for _, m := range msgs {
		fields := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			fields[k] = fmt.Sprint(v)
		}
		if t.match(fields) {
			if err := t.print(m.ID, fields); err != nil {
				return fmt.Errorf("calllog: tail: write output: %w", err)
			}
			t.printed++
		}
		if err := t.client.XAck(ctx, t.opts.Stream, t.opts.Group, m.ID).Err(); err != nil {
			return fmt.Errorf("calllog: tail: xack %s: %w", m.ID, err)
		}
		if t.opts.Count > 0 && t.printed >= t.opts.Count {
			return errTailDone
		}
	}
	return nil
}

func (t *tailer) match(f map[string]string) bool {
	return (t.opts.Flow == "" || f[FieldFlow] == t.opts.Flow) &&
		(t.opts.Call == "" || f[FieldCall] == t.opts.Call)
}

func (t *tailer) print(id string, f map[string]string) error {
	if t.opts.JSON {
		b, err := json.Marshal(TailRecord{Stream: t.opts.Stream, StreamID: id, Fields: f})
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
