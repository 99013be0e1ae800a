package esl

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Client is an inbound event socket connection (we dial FreeSWITCH, port
// 8021 by default): api, bgapi, event subscriptions. Safe for concurrent use.
type Client struct {
	*conn

	jmu      sync.Mutex
	jobs     map[string]chan *Message // Job-UUID -> BgAPI waiter
	wantJobs bool                     // the user subscribed BACKGROUND_JOB itself
}

// Dial connects to FreeSWITCH at addr, authenticates with password
// (ErrAuth if rejected) and subscribes BACKGROUND_JOB (plain) for BgAPI.
func Dial(ctx context.Context, addr, password string, opts ...Option) (*Client, error) {
	if err := ValidateValue(password); err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("esl: dial %s: %w", addr, err)
	}
	return NewClient(ctx, nc, password, opts...)
}

// NewClient runs the inbound handshake on an established connection (Dial
// does this for TCP). It takes ownership of nc.
func NewClient(ctx context.Context, nc net.Conn, password string, opts ...Option) (*Client, error) {
	if err := ValidateValue(password); err != nil {
		_ = nc.Close()
		return nil, err
	}
	cfg := newConfig(opts)
	rd := NewReader(nc, cfg.maxFrame)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	err := func() error {
		m, err := rd.ReadMessage()
		if err != nil {
			return err
		}
		if m.Kind() != KindAuthRequest {
			return fmt.Errorf("%w: %s instead of auth/request: %.80q", ErrUnexpectedMessage, m.Kind(), m.OuterBody())
		}
		if _, err := nc.Write(appendCommand(nil, "auth "+password)); err != nil {
			return err
		}
		if m, err = rd.ReadMessage(); err != nil {
			return err
		}
		if m.Kind() != KindCommandReply {
			return fmt.Errorf("%w: %s in answer to auth", ErrUnexpectedMessage, m.Kind())
		}
		if rt := m.ReplyText(); !hasPrefix(rt, "+OK") {
			return fmt.Errorf("%w: %s", ErrAuth, rt)
		}
		return nil
	}()
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("esl: inbound handshake: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	c := &Client{conn: newConn(nc, rd, cfg), jobs: map[string]chan *Message{}}
	c.claim = c.claimEvent
	c.onNotice = func(*Message) {}
	c.start()
	if _, err := c.command(ctx, "event plain BACKGROUND_JOB"); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("esl: subscribe BACKGROUND_JOB: %w", err)
	}
	return c, nil
}

// claimEvent gives BACKGROUND_JOB results to their BgAPI waiters. Jobs
// nobody waits for are dropped unless the user subscribed BACKGROUND_JOB
// (FreeSWITCH sends every listener every job, so a client that never drains
// would otherwise fill its mailbox).
func (c *Client) claimEvent(m *Message) bool {
	if m.Name() != "BACKGROUND_JOB" {
		return false
	}
	id := m.Get("Job-UUID")
	c.jmu.Lock()
	w, ok := c.jobs[id]
	if ok {
		delete(c.jobs, id)
	}
	want := c.wantJobs
	c.jmu.Unlock()
	if ok {
		w <- m
		return true
	}
	if !want {
		c.dropEvent()
		return true
	}
	return false
}

// API runs a blocking api command and returns its output; output starting
// with -ERR gives a *ReplyError (with the output).
func (c *Client) API(ctx context.Context, cmd string) (string, error) {
	return c.api(ctx, cmd)
}

// BgAPI runs cmd as a background job with our own Job-UUID and waits for
// its BACKGROUND_JOB result, returning the body ("+OK <uuid>\n" for
// originate). A body starting with -ERR gives a *ReplyError too.
func (c *Client) BgAPI(ctx context.Context, cmd string) (string, error) {
	if err := ValidateValue(cmd); err != nil {
		return "", err
	}
	id := NewUUID()
	w := make(chan *Message, 1)
	c.jmu.Lock()
	c.jobs[id] = w // before writing: the result may arrive before the reply
	c.jmu.Unlock()
	defer func() {
		c.jmu.Lock()
		delete(c.jobs, id)
		c.jmu.Unlock()
	}()
	if _, err := c.command(ctx, "bgapi "+cmd, "Job-UUID", id); err != nil {
		return "", err
	}
	select {
	case m := <-w:
		body := string(m.Body())
		if hasPrefix(body, "-ERR") {
			return body, &ReplyError{Command: "bgapi " + cmd, Reply: body}
		}
		return body, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.done:
		return "", c.Err()
	}
}

// Subscribe adds events to the subscription ("event <format> <events>");
// format is plain, json or xml (all parse into the same Event API). Use
// Notify and Drain to receive them.
func (c *Client) Subscribe(ctx context.Context, format string, events ...string) error {
	if len(events) == 0 {
		return fmt.Errorf("%w: no events to subscribe", ErrInvalidValue)
	}
	if err := validateAll(format); err != nil {
		return err
	}
	if err := validateAll(events...); err != nil {
		return err
	}
	for _, e := range events {
		if e == "BACKGROUND_JOB" || e == "ALL" {
			c.jmu.Lock()
			c.wantJobs = true
			c.jmu.Unlock()
		}
	}
	_, err := c.command(ctx, "event "+format+" "+strings.Join(events, " "))
	return err
}

// Command sends a raw command with optional headers (name, value pairs) and
// returns the reply; -ERR gives a *ReplyError.
func (c *Client) Command(ctx context.Context, cmd string, headers ...string) (*Message, error) {
	return c.command(ctx, cmd, headers...)
}

// Notify is signaled (capacity 1) when events are queued.
func (c *Client) Notify() <-chan struct{} { return c.conn.Notify() }

// Drain appends queued events to buf in arrival order and removes them.
func (c *Client) Drain(buf []*Event) []*Event { return c.conn.Drain(buf) }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Done is closed when the connection is gone.
func (c *Client) Done() <-chan struct{} { return c.conn.Done() }

// Err is why the connection ended (nil while it is up); clean ends
// (Close, exit, a disconnect notice) match ErrClosed.
func (c *Client) Err() error { return c.conn.Err() }

// Stats returns the mailbox counters.
func (c *Client) Stats() Stats { return c.conn.Stats() }
