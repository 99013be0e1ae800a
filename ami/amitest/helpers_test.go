package amitest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// captured is one message of a capture's .jsonl.
type captured struct {
	T       float64     `json:"t"`
	Dir     string      `json:"dir"`
	Headers [][2]string `json:"headers"`
	Raw     string      `json:"raw"`
}

func (m captured) get(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func (m captured) kind() string {
	if len(m.Headers) > 0 && strings.HasPrefix(m.Headers[0][0], "__") {
		return m.Headers[0][0]
	}
	if e := m.get("Event"); e != "" {
		return "Event:" + e
	}
	return "Response:" + m.get("Response")
}

// loadCapture reads ../testdata/<name>.jsonl; a missing fixture fails.
func loadCapture(t *testing.T, name string) []captured {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name + ".jsonl")
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var out []captured
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m captured
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		out = append(out, m)
	}
	return out
}

// clientActions splits ../testdata/<name>.c2s.raw into the actions sent.
func clientActions(t *testing.T, name string) [][]byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name + ".c2s.raw")
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var out [][]byte
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\n\n"))
		j := bytes.Index(b, []byte("\r\n\r\n"))
		end := -1
		switch {
		case i >= 0 && (j < 0 || i < j):
			end = i + 2
		case j >= 0:
			end = j + 4
		}
		if end < 0 {
			out = append(out, b)
			break
		}
		out = append(out, b[:end])
		b = b[end:]
	}
	return out
}

// msg is one message read from the fake.
type msg struct {
	headers [][2]string
	raw     string
}

func (m msg) get(name string) string {
	for _, h := range m.headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func (m msg) kind() string {
	if len(m.headers) > 0 && strings.HasPrefix(m.headers[0][0], "__") {
		return m.headers[0][0]
	}
	if e := m.get("Event"); e != "" {
		return "Event:" + e
	}
	return "Response:" + m.get("Response")
}

// client is a minimal test-side AMI reader (amitest's tests do not use
// package ami either).
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: newReader(conn)}
}

func (c *client) write(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one message (the banner line counts as one, EOF as __EOF__),
// splitting lines on LF and stripping CR, skipping empty messages.
func (c *client) read(timeout time.Duration) (msg, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	var m msg
	var raw strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			if errors.Is(err, io.EOF) && len(m.headers) == 0 && line == "" {
				return msg{headers: [][2]string{{"__EOF__", ""}}}, nil
			}
			return m, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if strings.HasPrefix(line, "Asterisk Call Manager/") && len(m.headers) == 0 {
			return msg{headers: [][2]string{{"__BANNER__", line}}, raw: raw.String()}, nil
		}
		if line == "" {
			if len(m.headers) == 0 {
				continue
			}
			m.raw = raw.String()
			return m, nil
		}
		k, v, _ := strings.Cut(line, ":")
		m.headers = append(m.headers, [2]string{k, strings.TrimPrefix(v, " ")})
	}
}

func (c *client) mustRead(timeout time.Duration) msg {
	c.t.Helper()
	m, err := c.read(timeout)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// varying are the headers whose values legitimately differ between the
// capture and the fake: clocks, session ids, addresses, challenges.
var varying = map[string]bool{
	"eventtv": true, "sessiontv": true, "sessionid": true, "localaddress": true, "remoteaddress": true,
	"uptime": true, "lastreload": true, "timestamp": true, "challenge": true,
	"starttime": true, "answertime": true, "endtime": true, "duration": true, "billableseconds": true,
	"logintime": true, "lastpause": true, "lastcall": true, "callstaken": true, "holdtime": true, "wait": true,
	"corestartupdate": true, "corestartuptime": true, "corereloaddate": true, "corereloadtime": true,
}

var (
	uniqueidRE = regexp.MustCompile(`\b1[0-9]{9}\.[0-9]+\b`)
	localSeqRE = regexp.MustCompile(`-[0-9a-f]{8}(;[12])`)
	bareLF     = regexp.MustCompile(`[^\r]\n\r\n`)
)

func normalize(v string) string {
	v = uniqueidRE.ReplaceAllString(v, "UID")
	return localSeqRE.ReplaceAllString(v, "-SEQ$1")
}

// sameShape reports how want (captured) and got (from the fake) differ:
// header names and order must be equal, values too except varying ones,
// Uniqueids and Local channel sequence numbers.
func sameShape(want captured, got msg) error {
	if len(want.Headers) != len(got.headers) {
		return fmt.Errorf("%s: %d headers %v, want %d %v", want.kind(), len(got.headers), names(got.headers), len(want.Headers), names(want.Headers))
	}
	// a bare LF before the closing CRLF CRLF is a captured quirk to keep
	if bareLF.MatchString(want.Raw) != bareLF.MatchString(got.raw) {
		return fmt.Errorf("%s: bare-LF ending differs: got %q, want %q", want.kind(), got.raw, want.Raw)
	}
	for i := range want.Headers {
		w, g := want.Headers[i], got.headers[i]
		if normalize(w[0]) != normalize(g[0]) {
			return fmt.Errorf("%s: header %d is %q, want %q", want.kind(), i, g[0], w[0])
		}
		if varying[strings.ToLower(w[0])] || strings.HasPrefix(w[0], "__") {
			continue
		}
		if normalize(strings.TrimSuffix(w[1], "\n")) != normalize(g[1]) {
			return fmt.Errorf("%s: %s = %q, want %q", want.kind(), w[0], g[1], w[1])
		}
	}
	return nil
}

func names(hs [][2]string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h[0]
	}
	return out
}

// replayOpt sends the capture's client actions one by one to the fake and,
// after each, reads as many messages as the real server sent before the
// client's next action, comparing each with sameShape. It returns the
// messages read.
// With unordered, the messages that follow each reply
// may come in any order (a sync Originate's held events race in Asterisk
// as the 50_* runs show): each captured message must then have one
// matching message of the same kind and channel.
func replayOpt(t *testing.T, srv *Server, name string, unordered bool) []msg {
	t.Helper()
	caps := loadCapture(t, name)
	acts := clientActions(t, name)
	// group the captured server messages by the client action they follow
	var groups [][]captured
	cur := []captured{}
	for _, m := range caps {
		if m.Dir == "C->S" {
			groups = append(groups, cur)
			cur = []captured{}
			continue
		}
		cur = append(cur, m)
	}
	groups = append(groups, cur)
	if len(groups)-1 != len(acts) {
		t.Fatalf("%s: %d client actions in .c2s.raw, %d in .jsonl", name, len(acts), len(groups)-1)
	}
	c := dial(t, srv.Addr)
	var got []msg
	check := func(want []captured) {
		t.Helper()
		if unordered && len(want) > 1 {
			var batch []msg
			for range want {
				g, err := c.read(10 * time.Second)
				if err != nil {
					t.Fatalf("%s: waiting for %s (%d messages, got %d: %v): %v", name, want[0].kind(), len(want), len(batch), kinds(batch), err)
				}
				batch = append(batch, g)
			}
			got = append(got, batch...)
			if w, g := want[0], batch[0]; w.kind() != g.kind() {
				t.Fatalf("%s: first message %s, want %s", name, g.kind(), w.kind())
			}
			matchUnordered(t, name, want, batch)
			return
		}
		for _, w := range want {
			g, err := c.read(10 * time.Second)
			if err != nil {
				t.Fatalf("%s: waiting for %s: %v", name, w.kind(), err)
			}
			got = append(got, g)
			if w.kind() != g.kind() {
				t.Fatalf("%s: got %s, want %s (message %d)", name, g.kind(), w.kind(), len(got))
			}
			if err := sameShape(w, g); err != nil {
				t.Errorf("%s: message %d: %v", name, len(got), err)
			}
		}
	}
	check(groups[0])
	for i, a := range acts {
		c.write(string(a))
		check(groups[i+1])
	}
	return got
}

func chanOf(get func(string) string) string {
	if c := get("Channel"); c != "" {
		return c
	}
	return get("DestChannel")
}

func kinds(ms []msg) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.kind()+" "+m.get("Device")+m.get("MemberName"))
	}
	return out
}

func newReader(conn net.Conn) *bufio.Reader { return bufio.NewReader(conn) }

// matchUnordered checks that each captured message has one message of the
// same kind, channel and shape in batch, in any order.
func matchUnordered(t *testing.T, name string, want []captured, batch []msg) {
	t.Helper()
	used := make([]bool, len(batch))
	for _, w := range want {
		var firstErr error
		found := false
		for j, g := range batch {
			if used[j] || g.kind() != w.kind() || normalize(chanOf(g.get)) != normalize(chanOf(w.get)) {
				continue
			}
			err := sameShape(w, g)
			if err == nil {
				used[j], found = true, true
				break
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if !found {
			t.Errorf("%s: no match for %s on %q: %v", name, w.kind(), chanOf(w.get), firstErr)
		}
	}
}
