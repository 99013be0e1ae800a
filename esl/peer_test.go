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

// inboundPeer behaves like FreeSWITCH's inbound socket: auth, then api
// answers echo the command, bgapi answers +OK Job-UUID and, once
// jobBatch jobs are pending, sends their BACKGROUND_JOBs in reverse-shuffled
// order. extra may handle a command first (return true if it did).
type inboundPeer struct {
	password string
	jobBatch int
	extra    func(p *fakePeer, m *Message) bool
	peers    chan *fakePeer
}

func (ip *inboundPeer) serve(p *fakePeer) {
	if ip.peers != nil {
		ip.peers <- p
	}
	p.send("Content-Type: auth/request\n\n")
	var jobs []string
	batch := max(ip.jobBatch, 1)
	for {
		m := p.next()
		if m == nil {
			return
		}
		line := m.CommandLine()
		if ip.extra != nil && ip.extra(p, m) {
			continue
		}
		switch {
		case strings.HasPrefix(line, "auth "):
			if strings.TrimPrefix(line, "auth ") != ip.password {
				p.send(replyMsg("-ERR invalid"))
				p.send("Content-Type: text/disconnect-notice\nContent-Length: 23\n\nDisconnected, goodbye.\n")
				return
			}
			p.send(replyMsg("+OK accepted"))
		case strings.HasPrefix(line, "event "):
			p.send(replyMsg("+OK event listener enabled plain"))
		case strings.HasPrefix(line, "api "):
			p.send(apiMsg(strings.TrimPrefix(line, "api ")))
		case strings.HasPrefix(line, "bgapi "):
			id := m.OuterHeader("Job-UUID")
			p.send("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + id + "\nJob-UUID: " + id + "\n\n")
			jobs = append(jobs, id+" "+strings.TrimPrefix(line, "bgapi "))
			if len(jobs) >= batch {
				// Deterministic shuffle: odd positions backwards, then even ones.
				var order []string
				for i := len(jobs) - 1; i >= 0; i -= 2 {
					order = append(order, jobs[i])
				}
				for i := len(jobs) - 2; i >= 0; i -= 2 {
					order = append(order, jobs[i])
				}
				for _, j := range order {
					id, cmd, _ := strings.Cut(j, " ")
					p.send(plainEvent("+OK "+cmd+"\n", "Event-Name", "BACKGROUND_JOB", "Job-UUID", id, "Job-Command", cmd))
				}
				jobs = jobs[:0]
			}
		case line == "exit":
			p.send(replyMsg("+OK bye"))
			p.send("Content-Type: text/disconnect-notice\nContent-Length: 23\n\nDisconnected, goodbye.\n")
			return
		default:
			p.send(replyMsg("-ERR command not found"))
		}
	}
}
