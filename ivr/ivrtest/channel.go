package ivrtest

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsivr/fsivr/esl"
)

// Sent is one application an ivr session sent on a Channel.
type Sent struct {
	App  string
	Arg  string
	UUID string // our Event-UUID, echoed as Application-UUID on completion
}

// Channel is an ivr.Channel in memory: no socket, no fake FreeSWITCH, the
// test itself plays the switch, so it can put events in any order (a
// completion after the hangup, a completion for someone else's app, two
// hangups). Its methods are safe for concurrent use.
type Channel struct {
	uuid string
	data *esl.Message

	mu      sync.Mutex
	mailbox []*esl.Message
	since   time.Time // when the oldest queued event was pushed
	sentLog []Sent
	hungUp  bool
	closed  bool

	sent   chan Sent
	notify chan struct{}
	done   chan struct{}
}

// NewChannel returns a channel whose connect reply carries uuid, the
// caller's number and the destination, and the given channel variables
// (variable_<name>), as FreeSWITCH's connect reply does.
func NewChannel(uuid, caller, destination string, vars map[string]string) *Channel {
	h := []string{
		"Content-Type", "command/reply", "Reply-Text", "+OK",
		"Unique-ID", uuid, "Channel-Name", "sofia/internal/" + caller + "@127.0.0.1",
		"Caller-Caller-ID-Number", caller, "Caller-Destination-Number", destination,
	}
	for _, k := range sortedKeys(vars) {
		h = append(h, "variable_"+k, vars[k])
	}
	return &Channel{
		uuid:   uuid,
		data:   mustMessage(frame(h, nil)),
		sent:   make(chan Sent, 1024),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

// UUID is the channel's Unique-ID.
func (c *Channel) UUID() string { return c.uuid }

// ChannelData is the connect reply.
func (c *Channel) ChannelData() *esl.Message { return c.data }

// Send records the application and returns a fresh Event-UUID; after Hangup
// it fails with esl.ErrHangup and after Close with esl.ErrClosed, like the
// real connection.
func (c *Channel) Send(ctx context.Context, app, arg string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return "", esl.ErrClosed
	case c.hungUp:
		c.mu.Unlock()
		return "", esl.ErrHangup
	}
	s := Sent{App: app, Arg: arg, UUID: esl.NewUUID()}
	c.sentLog = append(c.sentLog, s)
	c.mu.Unlock()
	select {
	case c.sent <- s:
	default: // nobody reads Sends; Commands still has it
	}
	return s.UUID, nil
}

// API records an api command (as "api <cmd>" in Commands and Sends) and
// answers +OK.
func (c *Channel) API(ctx context.Context, cmd string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return "", esl.ErrClosed
	}
	s := Sent{App: "api", Arg: cmd}
	c.sentLog = append(c.sentLog, s)
	c.mu.Unlock()
	select {
	case c.sent <- s:
	default:
	}
	return "+OK", nil
}

// Sends delivers every application as it is sent.
func (c *Channel) Sends() <-chan Sent { return c.sent }

// Commands returns "app arg" (trimmed) for everything sent so far.
func (c *Channel) Commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.sentLog))
	for i, s := range c.sentLog {
		out[i] = strings.TrimSpace(s.App + " " + s.Arg)
	}
	return out
}

// Notify is signalled when events are queued.
func (c *Channel) Notify() <-chan struct{} { return c.notify }

// Drain appends the queued events to buf in order and empties the queue.
func (c *Channel) Drain(buf []*esl.Message) []*esl.Message {
	buf, _ = c.DrainSince(buf)
	return buf
}

// DrainSince is Drain that also returns when the first of the events was
// queued (zero when there were none).
func (c *Channel) DrainSince(buf []*esl.Message) ([]*esl.Message, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	since := c.since
	if len(c.mailbox) == 0 {
		since = time.Time{}
	}
	buf = append(buf, c.mailbox...)
	clear(c.mailbox)
	c.mailbox = c.mailbox[:0]
	return buf, since
}

// Done is closed by Close.
func (c *Channel) Done() <-chan struct{} { return c.done }

// Close ends the connection (FreeSWITCH went away, or the socket closed):
// Done is closed; queued events stay readable by Drain.
func (c *Channel) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
}

// Push queues events for the session, in order.
func (c *Channel) Push(events ...*esl.Message) {
	c.mu.Lock()
	if len(c.mailbox) == 0 {
		c.since = time.Now()
	}
	c.mailbox = append(c.mailbox, events...)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// Event builds a text/event-plain event about this channel: Event-Name,
// Unique-ID, then the given header name/value pairs (values are encoded as
// FreeSWITCH encodes them).
func (c *Channel) Event(name string, headers ...string) *esl.Message {
	if len(headers)%2 != 0 {
		panic("ivrtest: Event headers must be name/value pairs")
	}
	return mustMessage(frame([]string{"Content-Type", "text/event-plain"},
		append([]string{"Event-Name", name, "Unique-ID", c.uuid}, headers...)))
}

// Complete queues the CHANNEL_EXECUTE_COMPLETE of s with the extra headers
// (e.g. "variable_menu_number", "1").
func (c *Channel) Complete(s Sent, headers ...string) {
	c.Push(c.Event("CHANNEL_EXECUTE_COMPLETE", append([]string{
		"Application", s.App, "Application-Data", s.Arg, "Application-Response", "_none_",
		"Application-UUID", s.UUID,
	}, headers...)...))
}

// Hangup queues CHANNEL_HANGUP and CHANNEL_HANGUP_COMPLETE with cause, in
// FreeSWITCH's order; later Sends fail with esl.ErrHangup.
func (c *Channel) Hangup(cause string) {
	c.mu.Lock()
	c.hungUp = true
	c.mu.Unlock()
	c.Push(c.Event("CHANNEL_HANGUP", "Hangup-Cause", cause), c.Event("CHANNEL_HANGUP_COMPLETE", "Hangup-Cause", cause))
}

// frame encodes an ESL message: outer headers, and for an event a body of
// URL-encoded headers.
func frame(outer, event []string) []byte {
	var body strings.Builder
	for i := 0; i+1 < len(event); i += 2 {
		fmt.Fprintf(&body, "%s: %s\n", event[i], url.PathEscape(event[i+1]))
	}
	if body.Len() > 0 {
		body.WriteString("\n")
	}
	var b strings.Builder
	if body.Len() > 0 {
		b.WriteString("Content-Length: " + strconv.Itoa(body.Len()) + "\n")
	}
	for i := 0; i+1 < len(outer); i += 2 {
		fmt.Fprintf(&b, "%s: %s\n", outer[i], outer[i+1])
	}
	b.WriteString("\n")
	b.WriteString(body.String())
	return []byte(b.String())
}

func mustMessage(b []byte) *esl.Message {
	m, _, err := esl.ParseMessage(b)
	if err != nil {
		panic("ivrtest: " + err.Error())
	}
	return m
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
