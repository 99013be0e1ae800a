package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/cputime"
)

// What ivrd sends per call kind through the sales flow (taken from an
// in-process run): the handshake, then these executes, each after the
// previous one's CHANNEL_EXECUTE_COMPLETE.
var (
	benchHandshake = []string{
		"connect", "myevents", "linger",
		"event plain CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF CUSTOM fifo::info",
	}
	benchMenu = []benchApp{
		{app: "answer"},
		{app: "playback", arg: "new_sales/1000.wav"},
		{app: "play_and_get_digits", arg: "1 1 3 5000 # new_sales/1001.wav new_sales/9004.wav menu_number [1-5]"},
	}
	benchKinds = map[string][]benchApp{
		// hold: the call reaches the menu, then ivrd hangs it up (the
		// hold run's setup and teardown; the caller stays silent).
		"hold": append(append([]benchApp(nil), benchMenu[:2]...),
			benchApp{app: benchMenu[2].app, arg: benchMenu[2].arg, hangupOnStart: true}),
		"hst": append(append([]benchApp(nil), benchMenu...),
			benchApp{app: "transfer", arg: "fifo_hst XML new_sales"}),
		"crm": append(append([]benchApp(nil), benchMenu...),
			benchApp{app: "playback", arg: "new_sales/1002.wav"},
			benchApp{app: "set", arg: "ringback=${us-ring}"},
			benchApp{app: "set", arg: "continue_on_fail=true"},
			benchApp{app: "set", arg: "hangup_after_bridge=true"},
			benchApp{app: "bridge", arg: "user/1769"}),
		"invalid": append(append([]benchApp(nil), benchMenu...),
			benchApp{app: "playback", arg: "new_sales/9003.wav"},
			benchApp{app: "hangup", arg: "NORMAL_CLEARING"}),
	}
)

type benchApp struct {
	app, arg string
	// hangupOnStart: once the app's CHANNEL_EXECUTE arrives, send a
	// hangup instead of waiting for its completion.
	hangupOnStart bool
}

// responder is a minimal stand-in for ivrd: per connection it plays a
// fixed command sequence and frames what comes back just enough to wait
// for replies, completions and the disconnect notice, so the benchmark's
// CPU is the load tool's.
type responder struct {
	ln   net.Listener
	apps []benchApp
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

func newResponder(tb testing.TB, apps []benchApp) *responder {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &responder{ln: ln, apps: apps}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer c.Close()
				if err := r.serve(c); err != nil {
					r.mu.Lock()
					if r.err == nil {
						r.err = err
					}
					r.mu.Unlock()
				}
			}()
		}
	}()
	return r
}

func (r *responder) close() error {
	_ = r.ln.Close()
	r.wg.Wait()
	return r.err
}

// benchMsg is one framed message: the outer header block and the body.
type benchMsg struct {
	contentType string
	body        []byte
}

func readBenchMsg(br *bufio.Reader, buf []byte) (benchMsg, []byte, error) {
	var m benchMsg
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return m, buf, err
		}
		line = line[:len(line)-1]
		if len(line) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(v))
		} else if v, ok := bytes.CutPrefix(line, []byte("Content-Type: ")); ok {
			m.contentType = string(v)
		}
	}
	if n > 0 {
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return m, buf, err
		}
		m.body = buf
	}
	return m, buf, nil
}

var errBenchDisconnect = errors.New("disconnect notice")

func (r *responder) serve(c net.Conn) error {
	br := bufio.NewReaderSize(c, 16<<10)
	var buf []byte
	next := func() (benchMsg, error) {
		m, b, err := readBenchMsg(br, buf)
		buf = b
		return m, err
	}
	send := func(s string) error {
		_, err := io.WriteString(c, s+"\n\n")
		return err
	}
	// until reads messages until match says so; a disconnect notice ends
	// the call early.
	until := func(match func(benchMsg) bool) error {
		for {
			m, err := next()
			if err != nil {
				return err
			}
			if m.contentType == "text/disconnect-notice" {
				return errBenchDisconnect
			}
			if match(m) {
				return nil
			}
		}
	}
	isReply := func(m benchMsg) bool { return m.contentType == "command/reply" }
	for _, cmd := range benchHandshake {
		if err := send(cmd); err != nil {
			return err
		}
		if err := until(isReply); err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
	}
	ended := false
	for i, a := range r.apps {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		cmd := "sendmsg\ncall-command: execute\nexecute-app-name: " + a.app
		if a.arg != "" {
			cmd += "\nexecute-app-arg: " + a.arg
		}
		if err := send(cmd + "\nevent-lock: true\nEvent-UUID: " + id); err != nil {
			return err
		}
		if err := until(isReply); err != nil {
			return fmt.Errorf("execute %s: %w", a.app, err)
		}
		want := "CHANNEL_EXECUTE_COMPLETE"
		if a.hangupOnStart {
			want = "CHANNEL_EXECUTE"
		}
		name, uuid := []byte("Event-Name: "+want+"\n"), []byte("\nApplication-UUID: "+id+"\n")
		err := until(func(m benchMsg) bool {
			return bytes.HasPrefix(m.body, name) && bytes.Contains(m.body, uuid)
		})
		if errors.Is(err, errBenchDisconnect) {
			ended = true
			break
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", want, a.app, err)
		}
		if a.hangupOnStart {
			if err := send("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING"); err != nil {
				return err
			}
		}
	}
	if !ended {
		// hangup, bridge with hangup_after_bridge, transfer (the tool's
		// caller hangs up): the call ends with the linger notice.
		if err := until(func(benchMsg) bool { return false }); !errors.Is(err, errBenchDisconnect) {
			return fmt.Errorf("waiting for the end of the call: %w", err)
		}
	}
	if err := send("exit"); err != nil {
		return err
	}
	for {
		if _, err := next(); err != nil {
			return nil // the fake closes after its goodbye
		}
	}
}

// BenchmarkFakeCall is the load tool's CPU per simulated call: the
// driver's startCall (esltest's fake channel, the Observer, the
// accounting) for one call of each kind against a minimal responder in
// this process playing ivrd's commands, benchConcurrency calls in flight.
// cpu-µs/call is this process's CPU (the responder's share is small:
// it only frames messages) divided by the calls.
func BenchmarkFakeCall(b *testing.B) {
	for _, kind := range []string{"hold", "hst", "crm", "invalid"} {
		b.Run(kind, func(b *testing.B) { benchFakeCall(b, kind) })
	}
}

const benchConcurrency = 64

func benchFakeCall(b *testing.B, kind string) {
	resp := newResponder(b, benchKinds[kind])
	o := options{playback: 5 * time.Millisecond, talk: 0}
	d := newDriver(o, mix{}, target{addr: resp.ln.Addr().String()})
	slots := make(chan struct{}, benchConcurrency)
	d.callDone = func() { <-slots }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(5, 6))
	cpu0 := cputime.Process(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		slots <- struct{}{}
		k := kind
		if k == "hold" {
			k = "queue" // a caller unknown to the CRM, silent in the menu
		}
		s := script(k, rng, o.playback, o.talk)
		if kind == "hold" {
			s.Digits = nil
		}
		d.startCall(ctx, kind, s)
	}
	for range benchConcurrency {
		slots <- struct{}{}
	}
	b.StopTimer()
	cpu := cputime.Process(b) - cpu0
	if err := resp.close(); err != nil {
		b.Fatalf("responder: %v", err)
	}
	if f := d.failed.Load() + d.dialFailed.Load(); f > 0 || d.completed.Load() != int64(b.N) {
		b.Fatalf("%d calls: %d completed, %d failed: %v", b.N, d.completed.Load(), f, d.errs)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/call")
}
