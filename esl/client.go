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
	*Conn

	jmu      sync.Mutex
	jobs     map[string]chan *Message // Job-UUID -> BgAPI waiter
	wantJobs bool                     // the user subscribed BACKGROUND_JOB itself
}

// Dialer connects inbound Clients with the settings in its fields.
type Dialer struct {
	// Password is the event socket password (event_socket.conf.xml; a
	// stock FreeSWITCH has "ClueCon").
	Password string
	// Config holds the connection settings.
	Config
}

// Dial connects to FreeSWITCH at addr with the default Config (see
// Dialer), authenticates with password (ErrAuth if rejected) and
// subscribes BACKGROUND_JOB (plain) for BgAPI.
func Dial(ctx context.Context, addr, password string) (*Client, error) {
	d := Dialer{Password: password}
	return d.Dial(ctx, addr)
}

// Dial connects to FreeSWITCH at addr (host:port, 8021 by default on
// FreeSWITCH's side), authenticates (ErrAuth if rejected) and subscribes
// BACKGROUND_JOB (plain) for BgAPI.
func (d *Dialer) Dial(ctx context.Context, addr string) (*Client, error) {
	if err := checkPassword(d.Password); err != nil {
		return nil, err
	}
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("esl: dial %s: %w", addr, err)
	}
	return d.NewClient(ctx, nc)
}

// checkPassword is ValidateValue for the password, whose error must not
// quote it (ValidateValue's does: the value is usually a command).
func checkPassword(p string) error {
	if strings.ContainsAny(p, "\r\n\x00") {
		return fmt.Errorf("%w: CR/LF or NUL in the password", ErrInvalidValue)
	}
	return nil
}

// NewClient runs the inbound handshake on an established connection (Dial
// does this for TCP). It takes ownership of nc.
func (d *Dialer) NewClient(ctx context.Context, nc net.Conn) (*Client, error) {
	password := d.Password
	if err := checkPassword(password); err != nil {
		_ = nc.Close()
		return nil, err
	}
	cfg := d.Config.withDefaults()
	rd := newConnReader(nc, cfg)
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
	c := &Client{Conn: newConn(nc, rd, cfg), jobs: map[string]chan *Message{}}
	c.claim = c.claimEvent
	c.onNotice = func(*Message) {}
	c.start()
	if _, err := c.Command(ctx, "event plain BACKGROUND_JOB"); err != nil {
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
		c.handOff(w, m)
		return true
	}
	if !want {
		c.dropEvent()
		return true
	}
	return false
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
	if _, err := c.Command(ctx, "bgapi "+cmd, "Job-UUID", id); err != nil {
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
	_, err := c.Command(ctx, "event "+format+" "+strings.Join(events, " "))
	return err
}
