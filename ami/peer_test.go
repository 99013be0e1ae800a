package ami

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// peer is the Asterisk side of a net.Pipe, scripted by each test: it reads
// the client's actions with our own Reader and writes whatever bytes the
// test gives it (captured ones, mostly).
type peer struct {
	t  *testing.T
	nc net.Conn
	rd *Reader
	mu sync.Mutex // serializes writes from several goroutines
}

const banner = "Asterisk Call Manager/11.0.0\r\n"

// newPair returns a started, not logged-in Client and its peer.
// Keepalive is off unless cfg sets it; the logger discards unless cfg
// sets one.
func newPair(t *testing.T, cfg Config) (*Client, *peer) {
	t.Helper()
	a, b := net.Pipe()
	p := &peer{t: t, nc: b, rd: NewReader(b, 0)}
	go p.send(banner)
	if cfg.Keepalive == 0 {
		cfg.Keepalive = -1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := Dialer{Config: cfg}
	c, err := d.open(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		_ = b.Close()
	})
	return c, p
}

func (p *peer) send(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.nc, s)
}

// next reads the next action the client sent.
func (p *peer) next() *Message {
	p.t.Helper()
	_ = p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := p.rd.ReadMessage()
	if err != nil {
		p.t.Errorf("peer: reading an action: %v", err)
		return nil
	}
	return m
}

// reply answers action m with the header lines given (CRLF added).
func (p *peer) reply(m *Message, lines ...string) {
	var b strings.Builder
	b.WriteString(lines[0] + "\r\nActionID: " + m.ActionID() + "\r\n")
	for _, l := range lines[1:] {
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n")
	p.send(b.String())
}

// captured returns the raw S->C messages of a session whose ActionID is id,
// with the ActionID replaced by ours.
func captured(t *testing.T, session, id, ours string) string {
	t.Helper()
	r := NewReader(bytes.NewReader(readTestdata(t, session+".s2c.raw")), 0)
	if _, err := r.ReadBanner(); err != nil {
		t.Fatal(err)
	}
	msgs, err := readMessages(r)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, m := range msgs {
		if m.ActionID() == id {
			b.WriteString(strings.ReplaceAll(string(m.Raw()), "ActionID: "+id+"\r\n", "ActionID: "+ours+"\r\n"))
		}
	}
	if b.Len() == 0 {
		t.Fatalf("%s has no message with ActionID %s", session, id)
	}
	return b.String()
}

// drainUntil collects events from s until n have arrived.
func drainUntil(t *testing.T, s *Subscription, n int) []*Message {
	t.Helper()
	var got []*Message
	deadline := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case <-s.Notify():
			got = s.Drain(got)
		case <-deadline:
			t.Fatalf("got %d of %d events", len(got), n)
		}
	}
	return got
}

func pendingCount(c *Client) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

func waitErr(t *testing.T, c *Client) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(5 * time.Second):
		t.Fatal("connection did not end")
		return nil
	}
}
