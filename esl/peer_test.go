package esl

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// fakePeer is the FreeSWITCH side of one test connection.
type fakePeer struct {
	t  testing.TB
	nc net.Conn
	rd *Reader

	mu   sync.Mutex
	seen []string // command lines received, in order
}

func newFakePeer(t testing.TB, nc net.Conn) *fakePeer {
	return &fakePeer{t: t, nc: nc, rd: NewReader(nc, 0)}
}

// next reads one command; nil at EOF or when the connection is closed.
func (p *fakePeer) next() *Message {
	m, err := p.rd.ReadMessage()
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "reset") {
			p.t.Errorf("fake peer read: %v", err)
		}
		return nil
	}
	p.mu.Lock()
	p.seen = append(p.seen, m.CommandLine())
	p.mu.Unlock()
	return m
}

func (p *fakePeer) commands() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *fakePeer) send(s string) {
	_, _ = p.nc.Write([]byte(s)) // the client may have gone; tests check the client side
}

func replyMsg(text string) string {
	return "Content-Type: command/reply\nReply-Text: " + text + "\n\n"
}

func apiMsg(body string) string {
	return fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body)
}

// plainEvent builds a text/event-plain message from name, value pairs
// (values percent-encoded where FreeSWITCH would) and an optional body.
func plainEvent(body string, headers ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + encodeValue(headers[i+1]) + "\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(body), body)
	} else {
		b.WriteString("\n")
	}
	inner := b.String()
	return fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(inner), inner)
}

func encodeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e || strings.IndexByte(" #%&+:;<=>?@[\\]^`{|}\"", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// listen starts a loopback listener whose connections are served by serve,
// each on its own goroutine; cleanup closes everything and waits.
func listen(t testing.TB, serve func(p *fakePeer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				serve(newFakePeer(t, nc))
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// hostileInbound is the FreeSWITCH side of the tests that need bytes no
// faithful fake sends (a flood, broken frames): the auth exchange of
// in_plain_session, then each command goes to fn first (which returns true
// if it answered); what fn leaves gets a plain answer: +OK for event, the
// command echoed for api, -ERR otherwise. Everything FreeSWITCH really
// does is esltest's job.
func hostileInbound(fn func(p *fakePeer, m *Message) bool) func(p *fakePeer) {
	return func(p *fakePeer) {
		p.send("Content-Type: auth/request\n\n")
		for {
			m := p.next()
			if m == nil {
				return
			}
			line := m.CommandLine()
			if fn != nil && fn(p, m) {
				continue
			}
			switch {
			case line == "auth ClueCon":
				p.send(replyMsg("+OK accepted"))
			case strings.HasPrefix(line, "event "):
				p.send(replyMsg("+OK event listener enabled plain"))
			case strings.HasPrefix(line, "api "):
				p.send(apiMsg(strings.TrimPrefix(line, "api ")))
			default:
				p.send(replyMsg("-ERR command not found"))
			}
		}
	}
}
