package esl

import (
	"context"
	"errors"
	"time"

	"github.com/fsivr/fsivr/internal/backoff"
)

// Reconnector keeps an inbound Client connected: it dials with capped,
// jittered exponential backoff, re-authenticates and re-subscribes after
// every reconnect.
type Reconnector struct {
	Addr     string
	Password string
	// Format and Events are subscribed after each connect (none if Events
	// is empty); Format defaults to "plain".
	Format string
	Events []string
	// MinDelay and MaxDelay bound the backoff (defaults 100 ms and 30 s).
	MinDelay, MaxDelay time.Duration
	// Config holds the connection settings of every Client it dials.
	Config
}

// Connect dials until it gets a connected, subscribed Client or ctx ends.
// An authentication failure is returned at once (retrying cannot fix it).
func (r *Reconnector) Connect(ctx context.Context) (*Client, error) {
	log := r.Config.withDefaults().Logger
	for attempt := 0; ; attempt++ {
		c, err := r.dialOnce(ctx)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, ErrAuth) || errors.Is(err, ErrInvalidValue) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("esl: connect failed; retrying", "addr", r.Addr, "attempt", attempt+1, "err", err)
		if err := (backoff.Policy{Min: r.MinDelay, Max: r.MaxDelay}).Wait(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

func (r *Reconnector) dialOnce(ctx context.Context) (*Client, error) {
	d := Dialer{Password: r.Password, Config: r.Config}
	c, err := d.Dial(ctx, r.Addr)
	if err != nil {
		return nil, err
	}
	if len(r.Events) > 0 {
		format := r.Format
		if format == "" {
			format = "plain"
		}
		if err := c.Subscribe(ctx, format, r.Events...); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Run keeps a connection up until ctx ends: it calls fn with each new
// Client and, when fn returns or the connection dies, closes it and
// reconnects. fn should return when c.Done() is closed. Run returns
// ctx.Err(), or a non-retryable error (ErrAuth).
func (r *Reconnector) Run(ctx context.Context, fn func(ctx context.Context, c *Client)) error {
	for {
		c, err := r.Connect(ctx)
		if err != nil {
			return err
		}
		fn(ctx, c)
		_ = c.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
