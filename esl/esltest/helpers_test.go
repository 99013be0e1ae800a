package esltest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/internal/capture"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// msg is one message FreeSWITCH (or the fake) sent: outer headers in order,
// body, and for text/event-plain the parsed inner event.
type msg struct {
	headers   []header
	body      string
	event     []header // decoded event headers (plain events only)
	eventBody string
}

func (m *msg) get(name string) string {
	for _, h := range m.headers {
		if h.name == name {
			return h.value
		}
	}
	return ""
}

func (m *msg) ev(name string) string {
	for _, h := range m.event {
		if h.name == name {
			return h.value
		}
	}
	return ""
}

func names(hs []header) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.name
	}
	return out
}

// toMsg views a message framed by package esl's Reader (the one ESL
// reader the tests share) as the header lists these tests compare: the
// outer header lines in wire order, verbatim, and for a plain event its
// decoded event headers. The fake itself never uses package esl.
func toMsg(em *esl.Message) *msg {
	raw := string(em.Raw())
	hdr, _, _ := strings.Cut(raw, "\n\n")
	m := &msg{body: string(em.OuterBody())}
	for _, line := range strings.Split(hdr, "\n") {
		k, v, _ := strings.Cut(line, ": ")
		m.headers = append(m.headers, header{k, v})
	}
	if em.Format() == esl.FormatPlain {
		for k, v := range em.EventHeaders() {
			m.event = append(m.event, header{k, v})
		}
		m.eventBody = string(em.Body())
	}
	return m
}

// readMsg reads the next message; io.EOF at a clean end.
func readMsg(r *esl.Reader) (*msg, error) {
	em, err := r.ReadMessage()
	if err != nil {
		return nil, err
	}
	return toMsg(em), nil
}

func parseAll(t *testing.T, b []byte) []*msg {
	t.Helper()
	r := esl.NewReader(bytes.NewReader(b), 0)
	var out []*msg
	for {
		m, err := readMsg(r)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("parse fixture: %v", err)
		}
		out = append(out, m)
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	return capture.Load(t, filepath.Join("..", "testdata", "freeswitch", name))
}

// rawClient is a minimal ESL client for driving the fake.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *esl.Reader
	seen []*msg
}

func newRawClient(t *testing.T, conn net.Conn) *rawClient {
	return &rawClient{t: t, conn: conn, r: esl.NewReader(conn, 0)}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s+"\n\n"); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

func (c *rawClient) next() *msg {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // failure guard only
	m, err := readMsg(c.r)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	c.seen = append(c.seen, m)
	return m
}

// reply reads until a command/reply and returns its Reply-Text.
func (c *rawClient) reply() string {
	c.t.Helper()
	for {
		m := c.next()
		if m.get("Content-Type") == "command/reply" {
			return m.get("Reply-Text")
		}
	}
}

func (c *rawClient) cmd(s string) string {
	c.t.Helper()
	c.send(s)
	return c.reply()
}

// until reads messages until match returns true, returning that message.
func (c *rawClient) until(match func(*msg) bool) *msg {
	c.t.Helper()
	for {
		if m := c.next(); match(m) {
			return m
		}
	}
}

func isEvent(name, app string) func(*msg) bool {
	return func(m *msg) bool {
		return m.ev("Event-Name") == name && (app == "" || m.ev("Application") == app)
	}
}

func execute(app, arg, uuid string) string {
	s := "sendmsg\ncall-command: execute\nexecute-app-name: " + app
	if arg != "" {
		s += "\nexecute-app-arg: " + arg
	}
	return s + "\nevent-lock: true\nEvent-UUID: " + uuid
}

// listenOnce accepts one connection and hands it over.
func listenOnce(t *testing.T) (addr string, accepted <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan net.Conn, 1)
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err == nil {
			ch <- c
		}
		close(ch)
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), ch
}

// acceptIVR is the IVR's side of the connection listenOnce accepts (the
// socket app of an originated call), closed when the test ends.
func acceptIVR(t *testing.T, accepted <-chan net.Conn) *rawClient {
	t.Helper()
	conn := <-accepted
	if conn == nil {
		t.Fatal("IVR got no connection")
	}
	t.Cleanup(func() { conn.Close() })
	return newRawClient(t, conn)
}

// startCall starts an outbound call of the fake against a test listener
// and returns the raw client on the accepted side.
func startCall(t *testing.T, s Script) (*Call, *rawClient) {
	t.Helper()
	addr, accepted := listenOnce(t)
	ctx, cancel := context.WithCancel(context.Background())
	call, err := StartOutbound(ctx, addr, s)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	conn := <-accepted
	if conn == nil {
		cancel()
		t.Fatal("no connection")
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		<-call.Done()
	})
	return call, newRawClient(t, conn)
}

func diffNames(want, got []string) string {
	if strings.Join(want, "\n") == strings.Join(got, "\n") {
		return ""
	}
	var b strings.Builder
	n := max(len(want), len(got))
	for i := 0; i < n; i++ {
		w, g := "", ""
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		mark := " "
		if w != g {
			mark = "!"
		}
		fmt.Fprintf(&b, "%s %-40s %s\n", mark, w, g)
	}
	return b.String()
}
