package esl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/esl/esltest"
)

// testCtx bounds a test; the bound is a failure guard, not a measurement.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newSwitch starts esltest's fake event socket for one test.
func newSwitch(t *testing.T, cfg esltest.Config) *esltest.Server {
	t.Helper()
	fs := esltest.NewServer(cfg)
	t.Cleanup(fs.Close)
	return fs
}

func dialTest(t *testing.T, addr string, cfg Config) *Client {
	t.Helper()
	d := Dialer{Password: "ClueCon", Config: cfg}
	c, err := d.Dial(testCtx(t), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// echoAtOnce runs n `echo <prefix><i>` commands through call (c.API or
// c.BgAPI, named name) all at once and fails t for each whose answer is not
// its own.
func echoAtOnce(ctx context.Context, t *testing.T, n int, name, prefix string, call func(context.Context, string) (string, error)) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			want := prefix + strconv.Itoa(i)
			got, err := call(ctx, "echo "+want)
			if err != nil || got != want {
				errs <- fmt.Errorf("%s(%q) = %q, %v", name, "echo "+want, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestInboundConcurrentAPI(t *testing.T) {
	c := dialTest(t, newSwitch(t, esltest.Config{}).Addr, Config{})
	ctx := testCtx(t)
	echoAtOnce(ctx, t, 1000, "API", "", c.API)
}

// A thousand background jobs in flight at once: FreeSWITCH runs each on
// its own thread, so their BACKGROUND_JOBs come in any order; each BgAPI
// gets its own, matched by Job-UUID.
func TestInboundConcurrentBgAPI(t *testing.T) {
	c := dialTest(t, newSwitch(t, esltest.Config{}).Addr, Config{})
	ctx := testCtx(t)
	echoAtOnce(ctx, t, 1000, "BgAPI", "job", c.BgAPI)
	if s := c.Stats(); s.EventsClaimed != 1000 || s.QueueDepth != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestInboundErrors(t *testing.T) {
	// As captured in in_plain_session: an unknown api, a failing originate.
	addr := newSwitch(t, esltest.Config{Script: func(dest string) esltest.Script {
		return esltest.Script{RejectCause: map[bool]string{true: "NO_ROUTE_DESTINATION"}[dest == "nosuchext"]}
	}}).Addr
	ctx := testCtx(t)
	if _, err := Dial(ctx, addr, "wrong"); !errors.Is(err, ErrAuth) {
		t.Errorf("bad password: %v, want ErrAuth", err)
	}
	c := dialTest(t, addr, Config{})
	body, err := c.API(ctx, "nosuchcommand")
	var re *ReplyError
	if !errors.As(err, &re) || !errors.Is(err, ErrCommand) || !strings.HasPrefix(body, "-ERR") {
		t.Errorf("api -ERR: %q %v", body, err)
	}
	if _, err := c.BgAPI(ctx, "originate loopback/nosuchext/default &park"); !errors.As(err, &re) || re.Reason() != "NO_ROUTE_DESTINATION" {
		t.Errorf("bgapi -ERR: %v", err)
	}
	if _, err := c.Command(ctx, "nosuchcommand"); !errors.Is(err, ErrCommand) {
		t.Errorf("unknown command: %v", err)
	}
}

func TestInvalidValuesWriteNothing(t *testing.T) {
	fs := newSwitch(t, esltest.Config{})
	addr := fs.Addr
	ctx := testCtx(t)
	if _, err := Dial(ctx, addr, "Clue\nCon"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("password: %v", err)
	}
	c := dialTest(t, addr, Config{})
	for _, bad := range []string{"status\napi x", "a\rb", "x\n\nexit"} {
		if _, err := c.API(ctx, bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("API(%q): %v", bad, err)
		}
		if _, err := c.BgAPI(ctx, bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("BgAPI(%q): %v", bad, err)
		}
		if err := c.Subscribe(ctx, "plain", bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Subscribe(%q): %v", bad, err)
		}
		if _, err := c.Command(ctx, "sendmsg", "execute-app-arg", bad); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("Command header %q: %v", bad, err)
		}
	}
	if _, err := c.API(ctx, "echo after"); err != nil {
		t.Fatal(err)
	}
	want := []string{"auth ClueCon", "event plain BACKGROUND_JOB", "api echo after"}
	var got []string
	for _, r := range fs.Commands() {
		got = append(got, strings.TrimSuffix(strings.SplitN(r.Raw, "\n", 2)[0], "\r"))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("peer received %q, want %q", got, want)
	}
}

// api is blocking per socket in FreeSWITCH: `api msleep` holds the reply
// and every later command queues behind it.
func TestCanceledWaitKeepsRepliesInOrder(t *testing.T) {
	fs := newSwitch(t, esltest.Config{})
	c := dialTest(t, fs.Addr, Config{})
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error)
	go func() {
		_, err := c.API(ctx, "msleep 300")
		done <- err
	}()
	// Cancel only once the command is on the wire, so its reply is still to
	// come when the next command is sent.
	for !slices.ContainsFunc(fs.Commands(), func(r esltest.Record) bool { return strings.HasPrefix(r.Raw, "api msleep") }) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled API: %v", err)
	}
	got, err := c.API(testCtx(t), "echo fast")
	if err != nil || got != "fast" {
		t.Errorf("next API got %q, %v (the canceled reply must be discarded)", got, err)
	}
}

func TestSlowConsumerAndOverflow(t *testing.T) {
	const n = 10000
	addr := listen(t, hostileInbound(func(p *fakePeer, m *Message) bool {
		if strings.HasPrefix(m.CommandLine(), "api flood") {
			var b strings.Builder
			for i := range n {
				b.WriteString(plainEvent("", "Event-Name", "CUSTOM", "Seq", fmt.Sprint(i)))
			}
			b.WriteString(apiMsg("flooded"))
			p.send(b.String())
			return true
		}
		return false
	}))
	c := dialTest(t, addr, Config{})
	ctx := testCtx(t)
	// The api reply comes after the 10,000 events: getting it proves the
	// reader went on framing while nobody drained.
	if got, err := c.API(ctx, "flood"); err != nil || got != "flooded" {
		t.Fatalf("API: %q %v", got, err)
	}
	s := c.Stats()
	if s.QueueDepth != n || s.HighWaterCrossings != 1 || s.MaxQueueDepth != n {
		t.Errorf("stats %+v", s)
	}
	select {
	case <-c.Notify():
	default:
		t.Error("Notify not signaled")
	}
	evs := c.Drain(nil)
	if len(evs) != n || evs[0].Get("Seq") != "0" || evs[n-1].Get("Seq") != fmt.Sprint(n-1) {
		t.Fatalf("drained %d events", len(evs))
	}
	if c.Stats().QueueDepth != 0 {
		t.Error("queue not empty after Drain")
	}

	small := dialTest(t, addr, Config{HighWater: 10, MaxQueue: 100})
	if _, err := small.API(ctx, "flood"); err == nil {
		t.Error("API after overflow succeeded")
	}
	<-small.Done()
	if !errors.Is(small.Err(), ErrQueueOverflow) {
		t.Errorf("Err = %v, want ErrQueueOverflow", small.Err())
	}
	// The first connection is unaffected.
	if _, err := c.API(ctx, "still there"); err != nil {
		t.Errorf("other connection: %v", err)
	}
}

func TestBrokenPeersEndOnlyTheirConnection(t *testing.T) {
	cases := []struct {
		name  string
		reply string
		want  error
	}{
		{"EOF", "", ErrClosed},
		{"short reply", "Content-Type: api/response\nContent-Length: 50\n\nshort", nil},
		{"unknown content type", "Content-Type: text/rude-rejection\nContent-Length: 14\n\nAccess Denied\n", ErrUnexpectedMessage},
		{"oversized frame", "Content-Type: api/response\nContent-Length: 5000000\n\n", ErrFrameTooLarge},
		{"garbage", "no colon here\nat all\n\n", ErrMalformed},
		{"unsolicited reply", "Content-Type: api/response\nContent-Length: 2\n\nok" + apiMsg("x"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := listen(t, hostileInbound(func(p *fakePeer, m *Message) bool {
				if m.CommandLine() == "api break" {
					p.send(tc.reply)
					_ = p.nc.Close()
					return true
				}
				return false
			}))
			good := dialTest(t, addr, Config{})
			bad := dialTest(t, addr, Config{MaxFrame: 1 << 20})
			ctx := testCtx(t)
			if _, err := bad.API(ctx, "break"); err == nil && tc.name != "unsolicited reply" {
				t.Fatal("API on a broken peer succeeded")
			}
			<-bad.Done()
			if bad.Err() == nil || (tc.want != nil && !errors.Is(bad.Err(), tc.want)) {
				t.Errorf("Err = %v, want %v", bad.Err(), tc.want)
			}
			if _, err := bad.API(ctx, "again"); err == nil {
				t.Error("API after failure succeeded")
			}
			if got, err := good.API(ctx, "ok"); err != nil || got != "ok" {
				t.Errorf("other connection: %q %v", got, err)
			}
		})
	}
}

func TestDisconnectNoticeEndsCleanly(t *testing.T) {
	addr := newSwitch(t, esltest.Config{}).Addr
	c := dialTest(t, addr, Config{})
	if m, err := c.Command(testCtx(t), "exit"); err != nil || m.ReplyText() != "+OK bye" {
		t.Fatalf("exit: %v", err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err = %v, want ErrClosed", c.Err())
	}
}

func TestSubscribeDeliversEventsInOrder(t *testing.T) {
	addr := newSwitch(t, esltest.Config{}).Addr
	c := dialTest(t, addr, Config{})
	if err := c.Subscribe(testCtx(t), "plain", "CHANNEL_ANSWER"); err != nil {
		t.Fatal(err)
	}
	// Another client's job reaches every listener (FreeSWITCH broadcasts
	// BACKGROUND_JOB), then two calls are answered, in this order.
	other := dialTest(t, addr, Config{})
	if _, err := other.BgAPI(testCtx(t), "echo someone else's"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"6f1c1d4e-0000-4000-8000-00000000000a", "6f1c1d4e-0000-4000-8000-00000000000b"} {
		if _, err := other.API(testCtx(t), "originate {origination_uuid="+id+"}loopback/ivr/default &park"); err != nil {
			t.Fatal(err)
		}
	}
	var got []*Message
	for len(got) < 2 {
		<-c.Notify()
		got = c.Drain(got)
	}
	if got[0].Get("Unique-ID") != "6f1c1d4e-0000-4000-8000-00000000000a" || got[1].Get("Unique-ID") != "6f1c1d4e-0000-4000-8000-00000000000b" {
		t.Errorf("events %v %v", got[0], got[1])
	}
	// A job nobody waits for is dropped: the user did not subscribe BACKGROUND_JOB.
	if s := c.Stats(); s.EventsDropped != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestReconnector(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	serve := hostileInbound(nil)
	addr := listen(t, func(p *fakePeer) {
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n <= 2 {
			return // refuse: close before auth/request
		}
		serve(p)
	})
	r := &Reconnector{Addr: addr, Password: "ClueCon", Events: []string{"CHANNEL_ANSWER"}, MinDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}
	c, err := r.Connect(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.API(testCtx(t), "hi"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if attempts != 3 {
		t.Errorf("attempts = %d, want 3", attempts)
	}
	mu.Unlock()

	bad := &Reconnector{Addr: addr, Password: "nope", MinDelay: time.Millisecond}
	if _, err := bad.Connect(testCtx(t)); !errors.Is(err, ErrAuth) {
		t.Errorf("bad password: %v, want ErrAuth without retrying forever", err)
	}
}

// Issue 16 item 12: a peer that stops in the middle of a frame held its
// session forever. Once a message's first bytes are in, the rest must come
// within Config.StallTimeout; an idle connection is never cut.
func TestStalledMessageClosesConnection(t *testing.T) {
	addr := listen(t, hostileInbound(func(p *fakePeer, m *Message) bool {
		if m.CommandLine() == "api half" {
			p.send("Content-Type: api/response\nContent-Length: 50\n\nshort") // and then nothing
			return true
		}
		return false
	}))
	cfg := Config{StallTimeout: 50 * time.Millisecond}
	stalled := dialTest(t, addr, cfg)
	idle := dialTest(t, addr, cfg)
	guard, cancel := context.WithTimeout(testCtx(t), 5*time.Second) // failure guard only
	defer cancel()
	if _, err := stalled.API(guard, "half"); !errors.Is(err, ErrStalled) {
		t.Fatalf("API on a peer stalled mid-frame: %v, want ErrStalled", err)
	}
	<-stalled.Done()
	if !errors.Is(stalled.Err(), ErrStalled) {
		t.Errorf("Err = %v, want ErrStalled", stalled.Err())
	}
	time.Sleep(3 * cfg.StallTimeout) // idle well past the bound
	if got, err := idle.API(testCtx(t), "still here"); err != nil || got != "still here" {
		t.Errorf("idle connection: %q, %v (only a stalled message may end a connection)", got, err)
	}
}
