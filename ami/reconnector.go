package ami

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fsivr/fsivr/internal/backoff"
)

// DefaultBootTimeout bounds the wait for FullyBooted after a Login.
const DefaultBootTimeout = 5 * time.Second

// Reconnector keeps one logged-in Client: it dials with capped, jittered
// exponential backoff, sends nothing before Login succeeds (after a
// restart a Ping before Login gets `Permission denied`), logs in again,
// re-applies the event mask and filters, waits for FullyBooted (Asterisk
// accepts Login before it has booted) and then hands the new connection to
// its owner, who rebuilds its state from list actions.
type Reconnector struct {
	Addr string
	// Username, Secret and MD5 are the credentials and the login mode, as
	// in Dialer.
	Username, Secret string
	MD5              bool
	// EventMask is sent with Events after each Login ("" leaves the
	// manager.conf default); Filters are added after it.
	EventMask string
	Filters   []Filter
	// Events are the event names the owner's Subscription receives (all
	// when empty). It is created before Login, so nothing after Login is
	// missed.
	Events []string
	// MinDelay and MaxDelay bound the backoff (defaults 100 ms and 30 s).
	MinDelay, MaxDelay time.Duration
	// BootTimeout bounds the wait for FullyBooted (default 5 s); after it
	// the connection is handed over anyway, with a warning.
	BootTimeout time.Duration
	// Config holds the connection settings of every Client it dials.
	Config
}

// Connect dials until it has a logged-in, configured Client and its
// Subscription, or ctx ends. An authentication failure or an invalid
// filter is returned at once (retrying cannot fix it).
func (r *Reconnector) Connect(ctx context.Context) (*Client, *Subscription, error) {
	log := r.Config.withDefaults().Logger
	for attempt := 0; ; attempt++ {
		c, sub, err := r.connectOnce(ctx)
		if err == nil {
			return c, sub, nil
		}
		if errors.Is(err, ErrAuth) || errors.Is(err, ErrInvalidValue) {
			return nil, nil, err
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		log.Warn("ami: connect failed; retrying", "addr", r.Addr, "attempt", attempt+1, "err", err)
		if err := (backoff.Policy{Min: r.MinDelay, Max: r.MaxDelay}).Wait(ctx, attempt); err != nil {
			return nil, nil, err
		}
	}
}

func (r *Reconnector) connectOnce(ctx context.Context) (*Client, *Subscription, error) {
	for _, f := range r.Filters {
		if err := f.Validate(); err != nil {
			return nil, nil, err
		}
	}
	d := Dialer{Username: r.Username, Secret: r.Secret, MD5: r.MD5, Config: r.Config}
	c, err := d.dialNoLogin(ctx, r.Addr)
	if err != nil {
		return nil, nil, err
	}
	sub := c.Subscribe(r.Events...)
	fail := func(err error) (*Client, *Subscription, error) {
		sub.Close()
		_ = c.Close()
		return nil, nil, err
	}
	if err := c.login(ctx, d.Username, d.Secret, d.MD5); err != nil {
		return fail(err)
	}
	if r.EventMask != "" {
		if err := c.Events(ctx, r.EventMask); err != nil {
			return fail(fmt.Errorf("ami: event mask: %w", err))
		}
	}
	for _, f := range r.Filters {
		if err := c.AddFilter(ctx, f); err != nil {
			return fail(fmt.Errorf("ami: filter: %w", err))
		}
	}
	bt := r.BootTimeout
	if bt <= 0 {
		bt = DefaultBootTimeout
	}
	t := time.NewTimer(bt)
	defer t.Stop()
	select {
	case <-c.Booted():
	case <-t.C:
		// The mask may hide the system class FullyBooted belongs to.
		c.cfg.Logger.Warn("ami: no FullyBooted after login; going on", "addr", r.Addr, "waited", bt)
	case <-c.Done():
		return fail(c.Err())
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return c, sub, nil
}

// Run keeps a connection up until ctx ends: it calls fn with each new
// Client and its Subscription (each call means "(re)connected: rebuild
// your state") and, when fn returns, closes both and reconnects. fn should
// return when c.Done() or events.Done() is closed (the latter after
// ErrQueueOverflow: events were lost, so state must be rebuilt). Run
// returns ctx.Err(), or a non-retryable error (ErrAuth).
func (r *Reconnector) Run(ctx context.Context, fn func(ctx context.Context, c *Client, events *Subscription)) error {
	for {
		c, sub, err := r.Connect(ctx)
		if err != nil {
			return err
		}
		fn(ctx, c, sub)
		sub.Close()
		_ = c.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.cfg.Logger.Info("ami: connection ended; reconnecting", "addr", r.Addr, "reason", c.Err())
	}
}
