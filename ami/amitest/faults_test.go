package amitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Restart plays 65_restart_*: Shutdown then EOF without Goodbye; a connect
// right after is accepted and closed without a byte or refused; then the
// port refuses; then a fresh banner, Login before FullyBooted, the hints'
// ExtensionStatus, and FullyBooted in its boot-time header order.
func TestRestart(t *testing.T) {
	caps := loadCapture(t, "65_restart_while_connected")
	boot := loadCapture(t, "65_restart_fastpoll_attempt_088")
	srv := NewServer(Config{BootDelay: 200 * time.Millisecond,
		Hints: []Hint{{Exten: "500", Context: "agents", Hint: "Custom:agent500"}}})
	defer srv.Close()
	c := login(t, srv, "on")
	for c.mustRead(time.Second).get("Event") != "SuccessfulAuth" {
	}
	up := srv.Restart(300 * time.Millisecond)
	m := c.mustRead(time.Second)
	if err := sameShape(caps[len(caps)-2], m); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if m = c.mustRead(time.Second); m.kind() != "__EOF__" {
		t.Fatalf("after Shutdown: %v, want EOF with no Goodbye", m.headers)
	}
	// reconnect at once, then every 10 ms, as the capture's client did
	var outcomes []string
	var conn net.Conn
	for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(10 * time.Millisecond) {
		cn, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial: %v", err)
			}
			outcomes = append(outcomes, "refused")
			continue
		}
		_ = cn.SetReadDeadline(time.Now().Add(time.Second))
		b := make([]byte, 64)
		n, err := cn.Read(b)
		if n == 0 && errors.Is(err, io.EOF) {
			outcomes = append(outcomes, "eof")
			cn.Close()
			continue
		}
		if !strings.HasPrefix(string(b[:n]), "Asterisk Call Manager/11.0.0\r\n") {
			t.Fatalf("after restart: %q", b[:n])
		}
		conn = cn
		break
	}
	if conn == nil {
		t.Fatalf("no banner after restart: %v", outcomes)
	}
	defer conn.Close()
	<-up
	if len(outcomes) == 0 || outcomes[len(outcomes)-1] != "refused" {
		t.Errorf("connect attempts before the banner: %v, want refusals", outcomes)
	}
	if outcomes[0] != "eof" && outcomes[0] != "refused" {
		t.Errorf("first attempt %s", outcomes[0])
	}
	c2 := &client{t: t, conn: conn, r: newReader(conn)}
	c2.write("Action: Login\r\nActionID: l2\r\nUsername: dialer\r\nSecret: secret\r\nEvents: on\r\n\r\n")
	loginAt := time.Now()
	var kinds []string
	var fully msg
	for fully.headers == nil {
		m := c2.mustRead(2 * time.Second)
		kinds = append(kinds, m.kind())
		if m.get("Event") == "FullyBooted" {
			fully = m
		}
	}
	if time.Since(loginAt) < 150*time.Millisecond {
		t.Errorf("FullyBooted %v after login, want about BootDelay", time.Since(loginAt))
	}
	want := []string{"Response:Success", "Event:SuccessfulAuth", "Event:ExtensionStatus", "Event:FullyBooted"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("after restart login: %v, want %v", kinds, want)
	}
	var capFully captured
	for _, m := range boot {
		if m.get("Event") == "FullyBooted" {
			capFully = m
		}
	}
	if err := sameNames(capFully, fully); err != nil {
		t.Errorf("boot FullyBooted: %v", err)
	}
}

// A session that stops reading is cut, mid-message, once its socket
// buffers are full and a write times out (or the fake's own queue passes
// SlowClientLimit); the others are not affected.
func TestSlowClientCut(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	slow := login(t, srv, "on")
	if tc, ok := slow.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(64 << 10) // keep the kernel from buffering megabytes
	}
	fast := login(t, srv, "on")
	var got bytes.Buffer
	var mu sync.Mutex
	seen := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			_ = fast.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := fast.conn.Read(buf)
			mu.Lock()
			tail := got.Len()
			if tail > 32 {
				tail -= 32
			} else {
				tail = 0
			}
			before := bytes.Count(got.Bytes()[tail:], []byte("UserEvent: Flood"))
			got.Write(buf[:n])
			seen += bytes.Count(got.Bytes()[tail:], []byte("UserEvent: Flood")) - before
			last := bytes.Contains(got.Bytes()[tail:], []byte("Probe: last"))
			mu.Unlock()
			if err != nil || last {
				return
			}
		}
	}()
	pad := strings.Repeat("x", 200)
	const n = 40000 // ~10 MB: more than the socket buffers and the limit
	for i := range n - 1 {
		srv.Emit("UserEvent", "user", Header{"UserEvent", "Flood"}, Header{"N", fmt.Sprint(i)}, Header{"Pad", pad})
		if i%200 == 199 {
			// pace the flood so the reading session keeps up
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				mu.Lock()
				c := seen
				mu.Unlock()
				select {
				case <-done:
					t.Fatalf("the reading session ended after %d events", c)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("the reading session is stuck at %d events", c)
				}
				if c >= i-400 {
					break
				}
			}
		}
	}
	srv.Emit("UserEvent", "user", Header{"UserEvent", "Flood"}, Header{"Probe", "last"})
	<-done
	if c := bytes.Count(got.Bytes(), []byte("UserEvent: Flood")); c != n {
		t.Errorf("the reading session got %d of %d events", c, n)
	}
	// now the slow one reads: some bytes, then EOF, the last message cut
	_ = slow.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	all, err := io.ReadAll(slow.r)
	if err != nil {
		t.Fatalf("slow session: %v after %d bytes, want EOF", err, len(all))
	}
	if c := bytes.Count(all, []byte("Event: UserEvent")); c == 0 || c >= n {
		t.Errorf("slow session got %d events before the cut, want some but not all", c)
	}
	if bytes.HasSuffix(all, []byte("\r\n\r\n")) {
		t.Errorf("slow session ends on a message boundary, want a cut mid-message")
	}
	if s := srv.Sessions(); s != 1 {
		t.Errorf("sessions after the cut: %d, want 1", s)
	}
}

// DropAll cuts every connection with no byte; calls in progress go on and
// their later events reach a session that connects afterwards.
func TestDropAllMidCall(t *testing.T) {
	srv := NewServer(Config{Outcome: func(Originate) Outcome {
		return Outcome{Kind: Answered, Script: "answer-wait", Hold: true}
	}})
	defer srv.Close()
	c := login(t, srv, "on")
	c.write("Action: Originate\r\nActionID: o1\r\nChannel: Local/400@test\r\nContext: test\r\nExten: 400\r\nAsync: true\r\nChannelId: held-1\r\n\r\n")
	for m := c.mustRead(2 * time.Second); m.get("Event") != "OriginateResponse"; m = c.mustRead(2 * time.Second) {
	}
	srv.DropAll()
	for {
		m, err := c.read(2 * time.Second)
		if err != nil {
			t.Fatalf("after DropAll: %v", err)
		}
		if m.kind() == "__EOF__" {
			break
		}
	}
	if n := srv.Channels(); n != 2 {
		t.Fatalf("channels after DropAll: %d, want 2 (the call goes on)", n)
	}
	c2 := login(t, srv, "on")
	if !srv.HangupChannel("held-1", 16) {
		t.Fatal("HangupChannel: no channel with Uniqueid held-1")
	}
	var hangups []string
	for len(hangups) < 2 {
		m := c2.mustRead(2 * time.Second)
		if m.get("Event") == "Hangup" {
			hangups = append(hangups, m.get("Uniqueid")+" "+m.get("Cause"))
		}
	}
	if fmt.Sprint(hangups) != "[held-1 16 held-1;2 16]" {
		t.Errorf("hangups %v", hangups)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for srv.Channels() != 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if n := srv.Channels(); n != 0 {
		t.Errorf("channels after hangup: %d", n)
	}
}

// SetRefusing closes the port (ECONNREFUSED) and opens it again on the same
// address; existing sessions stay.
func TestSetRefusing(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	c := login(t, srv, "off")
	if err := srv.SetRefusing(true); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", srv.Addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while refusing: %v, want ECONNREFUSED", err)
	}
	c.write("Action: Ping\r\nActionID: p\r\n\r\n")
	if m := c.mustRead(time.Second); m.get("Ping") != "Pong" {
		t.Errorf("existing session: %v", m.headers)
	}
	if err := srv.SetRefusing(false); err != nil {
		t.Fatal(err)
	}
	login(t, srv, "off")
}

// PauseReading stops the fake reading its peers until ResumeReading.
func TestPauseReading(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	c := login(t, srv, "off")
	srv.PauseReading()
	c.write("Action: Ping\r\nActionID: p\r\n\r\n")
	if m, err := c.read(200 * time.Millisecond); err == nil {
		t.Fatalf("reply while paused: %v", m.headers)
	}
	srv.ResumeReading()
	if m := c.mustRead(time.Second); m.get("ActionID") != "p" {
		t.Errorf("after resume: %v", m.headers)
	}
}

// OriginateResponse carries the originator's ActionID and reaches every
// session with call events, as does every session's SuccessfulAuth (68_*).
func TestOriginateResponseBroadcast(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	a := login(t, srv, "on")
	b := login(t, srv, "call")
	sawAuth := false
	a.write("Action: Originate\r\nActionID: mine-1\r\nChannel: Local/200@test\r\nContext: test\r\nExten: 100\r\nAsync: true\r\n\r\n")
	for {
		m := a.mustRead(2 * time.Second)
		if m.get("Event") == "SuccessfulAuth" {
			sawAuth = true
		}
		if m.get("Event") == "OriginateResponse" {
			break
		}
	}
	if !sawAuth {
		t.Error("session a did not see b's SuccessfulAuth")
	}
	for {
		m := b.mustRead(2 * time.Second)
		if m.get("Event") == "OriginateResponse" {
			if m.get("ActionID") != "mine-1" || m.get("Response") != "Failure" || m.get("Reason") != "5" {
				t.Errorf("b got %v", m.headers)
			}
			break
		}
	}
}

// Every action is recorded with its headers in order; concurrent Originates
// are counted at the fake.
func TestActionLogAndConcurrency(t *testing.T) {
	srv := NewServer(Config{Outcome: func(Originate) Outcome {
		return Outcome{Kind: Busy, Ring: 300 * time.Millisecond}
	}})
	defer srv.Close()
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := login(t, srv, "off")
			c.write(fmt.Sprintf("Action: Originate\r\nActionID: o-%d\r\nChannel: Local/200@test\r\nContext: test\r\nExten: 100\r\nAsync: true\r\nVariable: CALLID=%d\r\n\r\n", i, i))
			if m := c.mustRead(2 * time.Second); m.get("Message") != "Originate successfully queued" {
				t.Errorf("reply %v", m.headers)
			}
		}()
	}
	wg.Wait()
	if got := srv.InFlightOriginates(); got != n {
		t.Errorf("in flight %d, want %d", got, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.WaitActions(ctx, "originate", n); err != nil {
		t.Fatal(err)
	}
	for srv.InFlightOriginates() != 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if p := srv.PeakInFlightOriginates(); p != n {
		t.Errorf("peak %d, want %d", p, n)
	}
	acts := srv.ActionsNamed("Originate")
	if len(acts) != n {
		t.Fatalf("%d Originates recorded", len(acts))
	}
	for _, a := range acts {
		if names := fmt.Sprint(headerNames(a.Headers)); names != "[Action ActionID Channel Context Exten Async Variable]" {
			t.Errorf("recorded headers %s", names)
		}
		if a.At.IsZero() || a.Session == 0 {
			t.Errorf("recorded %+v", a)
		}
	}
	if len(srv.ActionsNamed("Login")) != n {
		t.Errorf("logins recorded: %d", len(srv.ActionsNamed("Login")))
	}
}

func headerNames(hs []Header) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Name
	}
	return out
}

// An oversized action ends only that connection.
func TestOversizedActionClosesOnlyThatSession(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	bad := login(t, srv, "off")
	good := login(t, srv, "off")
	bad.write("Action: Ping\r\nX: " + strings.Repeat("a", 64<<10) + "\r\n\r\n")
	if m, err := bad.read(2 * time.Second); err == nil && m.kind() != "__EOF__" {
		t.Errorf("oversized action answered: %v", m.headers)
	}
	good.write("Action: Ping\r\nActionID: g\r\n\r\n")
	if m := good.mustRead(time.Second); m.get("ActionID") != "g" {
		t.Errorf("other session: %v", m.headers)
	}
}

// A wrong secret is answered after Asterisk's 1 s delay, then closed (01_*).
func TestWrongSecretDelay(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	c := dial(t, srv.Addr)
	c.mustRead(time.Second)
	start := time.Now()
	c.write("Action: Login\r\nActionID: l\r\nUsername: dialer\r\nSecret: WRONG\r\n\r\n")
	m := c.mustRead(3 * time.Second)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("wrong secret answered after %v, want about 1 s", d)
	}
	if m.get("Message") != "Authentication failed" {
		t.Errorf("reply %v", m.headers)
	}
	if m := c.mustRead(time.Second); m.kind() != "__EOF__" {
		t.Errorf("after failed login: %v, want EOF", m.headers)
	}
}
