package ami

import (
	"log/slog"
	"time"

	"github.com/fsivr/fsivr/internal/mailbox"
)

// Defaults of a connection.
const (
	// DefaultActionTimeout bounds an action whose context has no deadline:
	// every pending action has one, so none waits forever.
	DefaultActionTimeout = 10 * time.Second
	// DefaultKeepalive is the Ping interval after Login.
	DefaultKeepalive = 30 * time.Second
	// DefaultHighWater and DefaultMaxQueue bound each subscription's
	// mailbox: a warning above the first, the subscription is closed with
	// ErrQueueOverflow at the second. A 20 ms pause of a consumer is a few
	// hundred events at the captured 20-client load, far below both.
	DefaultHighWater = mailbox.DefaultHighWater
	DefaultMaxQueue  = mailbox.DefaultMax
)

// Option configures a connection (Dial, NewClient) or a Reconnector.
type Option func(*config)

type config struct {
	logger        *slog.Logger
	maxFrame      int
	limits        mailbox.Limits
	actionTimeout time.Duration
	keepalive     time.Duration
	prefix        string
	md5           bool
}

func newConfig(opts []Option) config {
	c := config{keepalive: DefaultKeepalive}
	for _, o := range opts {
		o(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.maxFrame <= 0 {
		c.maxFrame = DefaultMaxFrame
	}
	if c.actionTimeout <= 0 {
		c.actionTimeout = DefaultActionTimeout
	}
	return c
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxFrame sets the largest accepted message in bytes (default 1 MiB).
func WithMaxFrame(n int) Option { return func(c *config) { c.maxFrame = n } }

// WithQueueLimits sets each subscription's high-water mark and hard cap.
func WithQueueLimits(highWater, maxQueue int) Option {
	return func(c *config) { c.limits = mailbox.Limits{HighWater: highWater, Max: maxQueue} }
}

// WithActionTimeout sets the deadline of actions whose context has none.
func WithActionTimeout(d time.Duration) Option { return func(c *config) { c.actionTimeout = d } }

// WithKeepalive sets the Ping interval after Login; 0 turns keepalive off.
// A Ping unanswered within the interval ends the connection (ErrTimeout).
func WithKeepalive(d time.Duration) Option { return func(c *config) { c.keepalive = d } }

// WithActionIDPrefix sets the prefix of our ActionIDs (default: random
// per connection). Asterisk sends OriginateResponse to every session with
// the originator's ActionID, so prefixes must differ between clients.
func WithActionIDPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithMD5Auth makes Dial and the Reconnector log in with the MD5
// challenge (the secret never crosses the wire).
func WithMD5Auth() Option { return func(c *config) { c.md5 = true } }
