package esl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
)

// This file is the one FreeSWITCH peer of esl's own tests for what a
// faithful fake does not do (FreeSWITCH's behaviour is esltest's job): a
// fakePeer on a loopback connection, opened three ways. hostileInbound and
// scriptedOutbound send bytes no real switch sends (floods, broken or
// stalled frames, a connect reply without Unique-ID, events about another
// channel); replayPeer sends exactly what a capture recorded.

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

// tcpPair returns both ends of one loopback TCP connection (dialled and
// accepted), closed at cleanup: a real socket, for what depends on one (the
// poller-driven idle reads, how writes arrive).
func tcpPair(t testing.TB) (dialled, accepted net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialled, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dialled.Close() })
	accepted, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = accepted.Close() })
	return dialled, accepted
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

// replayPeer plays FreeSWITCH's side of a captured outbound connection:
// for each command the client sends that matches the next captured
// command, it sends the captured reply and the events that followed it,
// with the captured Event-UUIDs replaced by the ones the client chose.
// Commands the capture does not have at that point get a plain +OK.
type replayPeer struct {
	segments [][]byte // reply i and the events after it
	tx       []*Message
	subst    [][2]string
}

func newReplayPeer(t *testing.T, name string) *replayPeer {
	rp := &replayPeer{tx: readAll(t, readFixture(t, name+".tx.bin"))}
	for _, m := range readAll(t, readFixture(t, name+".rx.bin")) {
		if m.Kind() == KindCommandReply || m.Kind() == KindAPIResponse || len(rp.segments) == 0 {
			rp.segments = append(rp.segments, nil)
		}
		last := len(rp.segments) - 1
		rp.segments[last] = append(rp.segments[last], m.Raw()...)
	}
	if len(rp.segments) != len(rp.tx) {
		t.Fatalf("%s: %d replies for %d commands", name, len(rp.segments), len(rp.tx))
	}
	return rp
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

func (rp *replayPeer) serve(p *fakePeer) {
	k := 0
	for {
		m := p.next()
		if m == nil {
			return
		}
		if k >= len(rp.tx) || firstWord(m.CommandLine()) != firstWord(rp.tx[k].CommandLine()) {
			p.send(replyMsg("+OK"))
			continue
		}
		if want := rp.tx[k].OuterHeader("Event-UUID"); want != "" {
			rp.subst = append(rp.subst, [2]string{want, m.OuterHeader("Event-UUID")})
		}
		seg := rp.segments[k]
		for _, s := range rp.subst {
			seg = bytes.ReplaceAll(seg, []byte(s[0]), []byte(s[1]))
		}
		p.send(string(seg))
		if m.CommandLine() == "exit" {
			return
		}
		k++
	}
}

// serveAndDial runs srv on a loopback listener and dials it, as FreeSWITCH
// connects to an outbound socket; served gets what Serve returns.
func serveAndDial(t *testing.T, srv *Server) (net.Conn, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return nc, served
}

// runOutbound starts a Server running handler and has serve play
// FreeSWITCH on one connection to it; it returns when both are done.
func runOutbound(t *testing.T, srv *Server, serve func(p *fakePeer)) *fakePeer {
	t.Helper()
	nc, served := serveAndDial(t, srv)
	p := newFakePeer(t, nc)
	serve(p)
	_ = nc.Close()
	if err := srv.Shutdown(testCtx(t)); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	return p
}

// scriptedOutbound plays FreeSWITCH's side of an outbound connection: the
// connect reply is connectReply (a capture's channel data, possibly
// damaged), the setup commands get +OK, and every later command goes to
// onCommand until the client closes.
func scriptedOutbound(connectReply []byte, onCommand func(p *fakePeer, m *Message)) func(p *fakePeer) {
	return func(p *fakePeer) {
		if m := p.next(); m == nil || m.CommandLine() != "connect" {
			return
		}
		p.send(string(connectReply))
		for {
			m := p.next()
			if m == nil {
				return
			}
			switch line := m.CommandLine(); {
			case line == "myevents", line == "linger", strings.HasPrefix(line, "event "):
				p.send(replyMsg("+OK"))
			default:
				onCommand(p, m)
			}
		}
	}
}

// s1ConnectReply is the connect reply of s1_outbound_full (channel
// 07fc0b40-f3ec-4124-b973-b722554fe3af), minus the header lines drop names.
func s1ConnectReply(t *testing.T, drop ...string) []byte {
	t.Helper()
	raw := string(readAll(t, readFixture(t, "s1_outbound_full.rx.bin"))[0].Raw())
	var out []string
	for _, line := range strings.Split(raw, "\n") {
		name, _, _ := strings.Cut(line, ":")
		if !slices.Contains(drop, name) {
			out = append(out, line)
		}
	}
	return []byte(strings.Join(out, "\n"))
}

// flakyListener fails Accept with errs, one per call, then accepts from
// the real listener.
type flakyListener struct {
	net.Listener
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: err}
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}
