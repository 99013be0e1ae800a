package esl

import (
	"log/slog"
	"time"

	"github.com/fsivr/fsivr/internal/mailbox"
)

// Defaults for zero Config fields.
const (
	DefaultHighWater    = mailbox.DefaultHighWater
	DefaultMaxQueue     = mailbox.DefaultMax
	DefaultStallTimeout = 30 * time.Second
)

// Config holds the connection settings that Server, Dialer and Reconnector
// share; each embeds one. The zero Config is ready to use: zero fields take
// the defaults.
type Config struct {
	// Logger receives one line when a connection fails (default
	// slog.Default()).
	Logger *slog.Logger
	// MaxFrame is the largest accepted message, header block plus body
	// (default DefaultMaxFrame, 4 MiB). A larger one ends the connection
	// with ErrFrameTooLarge.
	MaxFrame int
	// HighWater and MaxQueue bound the event mailbox: above HighWater
	// (default 1000) a warning is logged and counted in Stats; at MaxQueue
	// (default 100,000) the connection is closed with ErrQueueOverflow.
	HighWater, MaxQueue int
	// StallTimeout bounds how long the rest of a message may take once its
	// first byte has arrived (default 30 s; negative disables it). A peer
	// that stops in the middle of a frame would otherwise hold the
	// connection, and its call, forever; an idle connection between
	// messages is not bounded (a prompt may play for minutes).
	StallTimeout time.Duration
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
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	return c
}
