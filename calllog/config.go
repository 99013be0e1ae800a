package calllog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultNamespace     = "fsivr"
	DefaultStream        = "calls"
	DefaultSummary       = "call"
	DefaultMaxLen        = 1_000_000
	DefaultSummaryTTL    = 7 * 24 * time.Hour
	DefaultDedupeTTL     = 7 * 24 * time.Hour
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 1024
	DefaultWriteTimeout  = 2 * time.Second
	DefaultRetryInterval = time.Second
	DefaultFlushDelay    = 5 * time.Millisecond
	DefaultSegmentBytes  = 8 << 20

	DefaultMaxEntriesPerCall = 2000
	DefaultMaxValueBytes     = 1024
	DefaultMaxFields         = 32
)

// Hard ceilings of the entry limits: with them one spool record stays far
// below the spool's line limit.
const (
	maxMaxValueBytes = 16 << 10
	maxMaxFields     = 64
)

// ErrConfig is wrapped by every configuration error of NewWriter.
var ErrConfig = errors.New("calllog: invalid config")

// Config configures a Writer. The zero value is usable: every zero field takes
// its default.
type Config struct {
	// Namespace is the hash tag of every key ("{fsivr}:calls"). Default "fsivr".
	Namespace string `yaml:"namespace"`
	// Stream is the stream name after the tag. Default "calls"; the dialer
	// uses e.g. "attempts".
	Stream string `yaml:"stream"`
	// Summary is the name of the per-call summary hashes
	// ("{fsivr}:call:<uuid>"). Default "call". NoSummary turns them off.
	Summary   string `yaml:"summary"`
	NoSummary bool   `yaml:"no_summary"`
	// Shards splits the stream into N streams by hash of the call uuid
	// ("{fsivr:0}:calls" ... "{fsivr:N-1}:calls") so a Redis Cluster spreads
	// the load. Default 1 (one stream, "{fsivr}:calls").
	Shards int `yaml:"shards"`
	// MaxLen caps each stream at about MaxLen entries (XTRIM MAXLEN ~ MaxLen
	// after every batch). Default 1,000,000.
	MaxLen int64 `yaml:"maxlen"`
	// SummaryTTL is the TTL of a summary hash, renewed by every entry of the
	// call. Default 7 days.
	SummaryTTL time.Duration `yaml:"summary_ttl"`
	// DedupeTTL is how long the replay high-water mark of a call is kept,
	// counted from the call's first entry by a writer. An entry replayed from
	// the spool later than this after its call's first entry may be written
	// twice (consumers can dedupe by "id"). Default 7 days.
	DedupeTTL time.Duration `yaml:"dedupe_ttl"`
	// QueueSize bounds the in-memory queue of each shard (entries). When it
	// is full, the shard spools: its queue goes to the spool file and later
	// entries follow it there. Default 8192.
	QueueSize int `yaml:"queue_size"`
	// BatchSize is the most entries sent in one script call. Default 1024:
	// a call's summary and dedupe mark cost Redis a few commands per batch,
	// so the more of a call's entries one batch holds, the less each entry
	// costs (BenchmarkWrite, 200 calls interleaved: Redis CPU 19 µs/entry at
	// 256, 7 at 1024). One full batch keeps Redis busy for a few ms.
	BatchSize int `yaml:"batch_size"`
	// FlushDelay is how long a shard waits, once entries are queued, for
	// more before it sends less than a batch: fewer round trips per entry at
	// moderate rates (at 1,500 entries/s, about 8 entries per script call
	// instead of one or two), for at most this much more latency and this
	// much longer in memory only before a crash. A full batch goes at once;
	// Close never waits for it, and Append never does. Default 5ms; negative
	// = no wait; at most 1s.
	FlushDelay time.Duration `yaml:"flush_delay"`
	// WriteTimeout bounds one batch round trip; slower counts as Redis down.
	// Default 2s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// RetryInterval is how often Redis is probed while entries wait in the
	// spool. Default 1s.
	RetryInterval time.Duration `yaml:"retry_interval"`
	// SpoolDir holds the spool segments. One Writer per directory. Default
	// os.TempDir()/fsivr-spool/<namespace>-<stream>.
	SpoolDir string `yaml:"spool_dir"`
	// SegmentBytes rotates the spool file after this many bytes. Default 8 MiB.
	SegmentBytes int64 `yaml:"segment_bytes"`
	// MaxEntriesPerCall caps the entries one call may write (a peer flooding
	// DTMF or CUSTOM events must not fill the log and the spool for everyone).
	// call_start and hangup always pass, so every call keeps its summary's
	// start and end. Entries over the cap are dropped, counted
	// (fsivr_calllog_entries_capped_total) and logged once per call. Default
	// 2000; negative = no cap.
	MaxEntriesPerCall int `yaml:"max_entries_per_call"`
	// MaxValueBytes caps every value (Value, each Fields value, and the Call,
	// Flow, FlowVersion, Node strings) and every field name; longer ones are
	// cut at a UTF-8 boundary, counted (fsivr_calllog_values_truncated_total)
	// and logged once per call. Default 1024, at most 16 KiB.
	MaxValueBytes int `yaml:"max_value_bytes"`
	// MaxFields caps the extra Fields of one entry (kept in name order; the
	// rest are dropped and counted like truncated values). Default 32, at
	// most 64.
	MaxFields int `yaml:"max_fields"`
	// Tee, if set, receives a copy of every entry, synchronously in Append
	// (keep it fast); the demo prints entries with it.
	Tee func(Entry) `yaml:"-"`
	// Registerer receives the Prometheus metrics; nil = not registered.
	Registerer prometheus.Registerer `yaml:"-"`
}

// withDefaults fills zero fields and validates.
func (c Config) withDefaults() (Config, error) {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Summary == "" {
		c.Summary = DefaultSummary
	}
	if c.NoSummary {
		c.Summary = ""
	}
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.MaxLen == 0 {
		c.MaxLen = DefaultMaxLen
	}
	if c.SummaryTTL == 0 {
		c.SummaryTTL = DefaultSummaryTTL
	}
	if c.DedupeTTL == 0 {
		c.DedupeTTL = DefaultDedupeTTL
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.FlushDelay == 0 {
		c.FlushDelay = DefaultFlushDelay
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.MaxEntriesPerCall == 0 {
		c.MaxEntriesPerCall = DefaultMaxEntriesPerCall
	}
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = DefaultMaxValueBytes
	}
	if c.MaxFields == 0 {
		c.MaxFields = DefaultMaxFields
	}
	if c.SpoolDir == "" {
		c.SpoolDir = filepath.Join(os.TempDir(), "fsivr-spool", c.Namespace+"-"+c.Stream)
	}
	switch {
	case c.Shards < 1:
		return c, fmt.Errorf("%w: Shards %d < 1", ErrConfig, c.Shards)
	case c.MaxLen < 1:
		return c, fmt.Errorf("%w: MaxLen %d < 1", ErrConfig, c.MaxLen)
	case c.QueueSize < 1 || c.BatchSize < 1:
		return c, fmt.Errorf("%w: QueueSize and BatchSize must be >= 1", ErrConfig)
	case c.SummaryTTL < time.Second || c.DedupeTTL < time.Second:
		return c, fmt.Errorf("%w: SummaryTTL and DedupeTTL must be >= 1s", ErrConfig)
	case c.MaxValueBytes < 16 || c.MaxValueBytes > maxMaxValueBytes:
		return c, fmt.Errorf("%w: MaxValueBytes %d not in [16, %d]", ErrConfig, c.MaxValueBytes, maxMaxValueBytes)
	case c.MaxFields < 1 || c.MaxFields > maxMaxFields:
		return c, fmt.Errorf("%w: MaxFields %d not in [1, %d]", ErrConfig, c.MaxFields, maxMaxFields)
	case c.FlushDelay > time.Second:
		return c, fmt.Errorf("%w: FlushDelay %v > 1s", ErrConfig, c.FlushDelay)
	case c.WriteTimeout < 0 || c.RetryInterval < 0 || c.SegmentBytes < 0:
		return c, fmt.Errorf("%w: negative duration or size", ErrConfig)
	}
	for _, s := range []string{c.Namespace, c.Stream, c.Summary} {
		for _, r := range s {
			if r == '{' || r == '}' || r < ' ' {
				return c, fmt.Errorf("%w: %q: no braces or control characters in key names", ErrConfig, s)
			}
		}
	}
	return c, nil
}

func (c Config) keys() Keys {
	return Keys{Namespace: c.Namespace, Stream: c.Stream, Summary: c.Summary, Shards: c.Shards}
}

// Keys returns the key names this config writes (for consumers and tests).
func (c Config) Keys() (Keys, error) {
	c, err := c.withDefaults()
	return c.keys(), err
}
