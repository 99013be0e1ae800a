package ami

import (
	"log/slog"
	"time"

	"github.com/fsivr/fsivr/internal/mailbox"
)

// Defaults for zero Config fields.
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
	// DefaultStallTimeout bounds the rest of a message once its first
	// byte has arrived.
	DefaultStallTimeout = 30 * time.Second
)

// Config holds the connection settings that Dialer and Reconnector share;
// each embeds one, as esl's Dialer, Server and Reconnector do. The zero
// Config is ready to use: zero fields take the defaults.
type Config struct {
	// Logger receives one line when a connection fails (default
	// slog.Default()). Secrets never reach it.
	Logger *slog.Logger
	// MaxFrame is the largest accepted message in bytes (default
	// DefaultMaxFrame, 1 MiB). A larger one ends the connection with
	// ErrFrameTooLarge.
	MaxFrame int
	// HighWater and MaxQueue bound each subscription's mailbox: above
	// HighWater (default 1000) a warning is logged and counted in Stats; at
	// MaxQueue (default 100,000) that subscription is closed with
	// ErrQueueOverflow.
	HighWater, MaxQueue int
	// ActionTimeout is the deadline of an action whose context has none,
	// and of the banner wait (default 10 s).
	ActionTimeout time.Duration
	// Keepalive is the Ping interval after Login (default 30 s; negative
	// turns keepalive off). A Ping unanswered within the interval ends the
	// connection with ErrTimeout.
	Keepalive time.Duration
	// StallTimeout bounds how long the rest of a message may take once its
	// first byte has arrived (default 30 s; negative disables it). A peer
	// that stops in the middle of a message would otherwise hold the
	// connection, and every action waiting on it, until the keepalive
	// notices; an idle connection between messages is not bounded.
	StallTimeout time.Duration
	// ActionIDPrefix is the prefix of our ActionIDs (default: random per
	// connection). Asterisk sends OriginateResponse to every session with
	// the originator's ActionID, so prefixes must differ between clients.
	ActionIDPrefix string
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.HighWater <= 0 {
		c.HighWater = DefaultHighWater
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.ActionTimeout <= 0 {
		c.ActionTimeout = DefaultActionTimeout
	}
	if c.Keepalive == 0 {
		c.Keepalive = DefaultKeepalive
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	return c
}
