package ami

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
)

// End-to-end tests against the fake Asterisk (ami/amitest), which speaks
// the captured bytes and has its own wire code.

var quiet = slog.New(slog.DiscardHandler)

// dialQuiet logs in as "dialer" with a logger that discards.
func dialQuiet(ctx context.Context, addr, secret string) (*Client, error) {
	d := Dialer{Username: "dialer", Secret: secret, Config: Config{Logger: quiet}}
	return d.Dial(ctx, addr)
}

func dialFake(t *testing.T, srv *amitest.Server) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dialQuiet(ctx, srv.Addr, "secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// trackedEvents are the events the Tracker reads.
var trackedEvents = []string{"OriginateResponse", "Newchannel", "Newstate", "DialBegin", "DialEnd", "Hangup"}

type sentResult struct {
	id  string
	err error
}

// track places every call through c, feeds the tracker from sub and
// returns one outcome per call id.
func track(t *testing.T, c *Client, sub *Subscription, tr *Tracker, calls map[string]Originate) map[string]Outcome {
	t.Helper()
	results := make(chan sentResult, len(calls))
	for id, o := range calls {
		o, err := tr.Place(id, o, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.Originate(ctx, o)
			results <- sentResult{id, err}
		}()
	}
	outs := map[string]Outcome{}
	add := func(o Outcome) {
		if _, dup := outs[o.ID]; dup {
			t.Errorf("second outcome for %s: %+v", o.ID, o)
		}
		outs[o.ID] = o
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	var buf []*Message
	for len(outs) < len(calls) {
		select {
		case r := <-results:
			if o, done := tr.Sent(r.id, r.err, time.Now()); done {
				add(o)
			}
		case <-sub.Notify():
			buf = sub.Drain(buf[:0])
			for _, m := range buf {
				if o, done := tr.Feed(m, time.Now()); done {
					add(o)
				}
			}
		case <-tick.C:
			for _, o := range tr.Tick(time.Now()) {
				add(o)
			}
		case <-deadline:
			states := map[callState]int{}
			for _, c := range tr.calls {
				states[c.state]++
			}
			t.Fatalf("%d of %d calls ended; left by state %v", len(outs), len(calls), states)
		}
	}
	return outs
}

var kindDisposition = map[amitest.OutcomeKind]Disposition{
	amitest.Answered:         Answered,
	amitest.Busy:             Busy,
	amitest.NoAnswer:         NoAnswer,
	amitest.Congestion:       Congestion,
	amitest.NoSuchExtension:  InvalidDestination,
	amitest.UnknownTech:      InvalidDestination,
	amitest.Rejected:         Rejected,
	amitest.ExtensionMissing: InvalidDestination,
}

// Every Originate outcome under every ordering the captures show, all on
// one connection at once.
func TestE2EEveryOutcomeEveryOrdering(t *testing.T) {
	script := map[string]amitest.Outcome{}
	calls := map[string]Originate{}
	n := 0
	for kind := range kindDisposition {
		orders := amitest.Orders(kind)
		if len(orders) == 0 {
			orders = []amitest.Order{nil} // the kind's single capture
		}
		for _, ord := range orders {
			id := fmt.Sprintf("e2e-%s-%d", kind, n)
			n++
			script[id] = amitest.Outcome{Kind: kind, Order: ord, Ring: 5 * time.Millisecond}
			calls[id] = Originate{Channel: "Local/100@test", Context: "test", Exten: "100", Timeout: 5 * time.Second}
		}
	}
	srv := amitest.NewServer(amitest.Config{
		Logger:  quiet,
		Outcome: func(o amitest.Originate) amitest.Outcome { return script[o.ChannelID] },
	})
	defer srv.Close()
	c := dialFake(t, srv)
	sub := c.Subscribe(trackedEvents...)
	outs := track(t, c, sub, NewTracker(), calls)
	for id, o := range outs {
		want := kindDisposition[script[id].Kind]
		if o.Disposition != want {
			t.Errorf("%s (order %v): %s, want %s", id, script[id].Order, o.Disposition, want)
		}
		if script[id].Kind != amitest.ExtensionMissing && o.Reason != script[id].Kind.Reason() {
			t.Errorf("%s: Reason %d, want %d", id, o.Reason, script[id].Kind.Reason())
		}
	}
	if n < 35 {
		t.Errorf("only %d calls: the fake lists fewer orderings than the summary", n)
	}
}

func TestE2EThousandConcurrentActions(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: quiet})
	defer srv.Close()
	c := dialFake(t, srv)
	const n = 1000
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			name := "V" + strconv.Itoa(i)
			if err := c.Setvar(ctx, "", name, strconv.Itoa(i)); err != nil {
				t.Errorf("Setvar %d: %v", i, err)
				bad.Add(1)
				return
			}
			v, err := c.Getvar(ctx, "", name)
			if err != nil || v != strconv.Itoa(i) {
				t.Errorf("Getvar %d: %q, %v", i, v, err)
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if got := len(srv.ActionsNamed("Getvar")); got != n {
		t.Errorf("fake saw %d Getvar", got)
	}
	if pendingCount(c) != 0 {
		t.Errorf("%d pending after all replies", pendingCount(c))
	}
}

func TestE2EListActions(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{
		Logger: quiet,
		Queues: []amitest.Queue{{Name: "sales", Members: []amitest.Member{
			{Interface: "Local/400@test/n", Name: "Static400", Static: true},
			{Interface: "Local/500@test", Name: "M500"},
		}}},
	})
	defer srv.Close()
	c := dialFake(t, srv)
	ctx := context.Background()
	items, err := c.QueueStatus(ctx, "sales", "")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, it := range items {
		names[it.Name()]++
	}
	if names["QueueParams"] != 1 || names["QueueMember"] != 2 || len(items) != 3 {
		t.Errorf("QueueStatus items %v", names)
	}
	r, err := c.Action(ctx, "QueueSummary", "Queue", "sales")
	if err != nil || len(r.Items) != 1 || r.Complete == nil || r.Complete.Get("ListItems") != "1" {
		t.Errorf("QueueSummary: %+v %v", r, err)
	}
	if err := c.QueuePause(ctx, "sales", "Local/500@test", true, "lunch"); err != nil {
		t.Error(err)
	}
	err = c.QueueRemove(ctx, "sales", "Local/400@test/n")
	var re *ResponseError
	if !errors.As(err, &re) || re.Message != "Member not dynamic" {
		t.Errorf("QueueRemove static: %v", err)
	}
}

// The consumer does not drain while the fake floods events: the reader
// keeps reading, so the fake (cutting at 64 KiB unread here, 4 MB in
// Asterisk) never cuts the session, and nothing is lost.
func TestE2ESlowConsumerIsNeverCut(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: quiet, SlowClientLimit: 256 << 10})
	defer srv.Close()
	c := dialFake(t, srv)
	sub := c.Subscribe("UserEvent")
	const n = 5000 // ~1 MB of events, in bursts of ~20 KB
	pad := amitest.Header{Name: "Padding", Value: strings.Repeat("x", 140)}
	for i := range n {
		srv.Emit("UserEvent", "user", amitest.Header{Name: "UserEvent", Value: "Flood"}, amitest.Header{Name: "Seq", Value: strconv.Itoa(i)}, pad)
		if i%100 == 99 {
			time.Sleep(time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil { // answered after every event before it was read
		t.Fatalf("Ping after the flood: %v (connection: %v)", err, c.Err())
	}
	got := sub.Drain(nil)
	if len(got) != n {
		t.Fatalf("%d of %d events queued", len(got), n)
	}
	for i, m := range got {
		if m.Get("Seq") != strconv.Itoa(i) {
			t.Fatalf("event %d has Seq %s", i, m.Get("Seq"))
		}
	}
}

// The fake drops the connection mid-originate: the Reconnector logs in
// again, re-applies mask and filters, tells its owner, and the tracked
// calls end with a definite outcome: the held call resumes and is hung up,
// the one that ended during the drop is answered-incomplete, the one still
// ringing gets its OriginateResponse on the new session.
func TestE2EDropMidOriginate(t *testing.T) {
	script := map[string]amitest.Outcome{
		"held":  {Kind: amitest.Answered, Hold: true, Ring: 5 * time.Millisecond},
		"short": {Kind: amitest.Answered, Talk: 300 * time.Millisecond, Ring: 5 * time.Millisecond},
		"late":  {Kind: amitest.Answered, Talk: 50 * time.Millisecond, Ring: 700 * time.Millisecond},
	}
	srv := amitest.NewServer(amitest.Config{
		Logger:  quiet,
		Outcome: func(o amitest.Originate) amitest.Outcome { return script[o.ChannelID] },
	})
	defer srv.Close()
	filters := IncludeEvents(trackedEvents...)
	r := &Reconnector{
		Addr: srv.Addr, Username: "dialer", Secret: "secret",
		EventMask: "call", Filters: filters, Events: trackedEvents,
		MinDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
		BootTimeout: 200 * time.Millisecond, Config: Config{Logger: quiet},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	tr := NewTracker()
	outs := map[string]Outcome{}
	connects, responses, dropped := 0, 0, false
	runErr := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		runErr <- r.Run(ctx, func(ctx context.Context, c *Client, sub *Subscription) {
			connects++
			if connects == 1 {
				for id := range script {
					o, err := tr.Place(id, Originate{Channel: "Local/100@test", Context: "test", Exten: "100"}, time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					_, err = c.Originate(ctx, o)
					tr.Sent(id, err, time.Now())
				}
			} else {
				// Events queued since the Login first (they are older than
				// the channel list), then the list.
				for _, m := range sub.Drain(nil) {
					if o, done := tr.Feed(m, time.Now()); done {
						outs[o.ID] = o
					}
				}
				items, err := c.CoreShowChannels(ctx)
				if err != nil {
					t.Errorf("CoreShowChannels after reconnect: %v", err)
					return
				}
				for _, o := range tr.Resync(items, time.Now()) {
					outs[o.ID] = o
				}
				if !tr.Tracked("held") {
					t.Error("the held call was not resumed")
					return
				}
				if err := c.Hangup(ctx, "held", 16); err != nil {
					t.Errorf("Hangup: %v", err)
				}
			}
			for {
				select {
				case <-c.Done():
					tr.Disconnected()
					return
				case <-ctx.Done():
					return
				case <-sub.Notify():
					for _, m := range sub.Drain(nil) {
						if m.Name() == "OriginateResponse" {
							responses++
						}
						if o, done := tr.Feed(m, time.Now()); done {
							outs[o.ID] = o
						}
					}
					if connects == 1 && responses == 2 && !dropped {
						dropped = true
						// held and short answered, late still ringing: cut the network
						srv.DropAll()
						time.Sleep(400 * time.Millisecond) // short ends while we are away
					}
					if len(outs) == len(script) {
						close(finished)
						cancel()
						return
					}
				}
			}
		})
	}()
	select {
	case <-finished:
	case <-time.After(15 * time.Second):
		t.Fatalf("calls did not end: %+v, connects %d", outs, connects)
	}
	<-runErr
	if connects < 2 {
		t.Fatalf("owner told %d times", connects)
	}
	if o := outs["held"]; o.Disposition != Answered || o.Incomplete || o.Cause != 16 {
		t.Errorf("held: %+v", o)
	}
	if o := outs["short"]; o.Disposition != Answered || !o.Incomplete {
		t.Errorf("short: %+v", o)
	}
	if o := outs["late"]; o.Disposition != Answered || o.Reason != 4 || o.Talk <= 0 {
		t.Errorf("late (answered after the reconnect): %+v", o)
	}
	if got, want := len(srv.ActionsNamed("Filter")), 2*len(filters); got != want {
		t.Errorf("%d Filter actions, want %d (re-applied after the reconnect)", got, want)
	}
	if got := len(srv.ActionsNamed("Events")); got != 2 {
		t.Errorf("%d Events actions, want 2", got)
	}
	// Nothing before Login on any session.
	first := map[int]string{}
	for _, a := range srv.Actions() {
		if _, ok := first[a.Session]; !ok {
			first[a.Session] = a.Name
		}
	}
	for s, name := range first {
		if name != "Login" {
			t.Errorf("session %d began with %s", s, name)
		}
	}
}

// A restart: Shutdown, EOF, an accepted-and-closed connect, refusals, then
// Login before FullyBooted. The Reconnector waits and comes back.
func TestE2ERestart(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: quiet, BootDelay: 100 * time.Millisecond})
	defer srv.Close()
	r := &Reconnector{
		Addr: srv.Addr, Username: "dialer", Secret: "secret",
		MinDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, Config: Config{Logger: quiet},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var reasons []error
	connects := 0
	err := r.Run(ctx, func(ctx context.Context, c *Client, _ *Subscription) {
		connects++
		select {
		case <-c.Booted():
		default:
			t.Error("handed over before FullyBooted")
		}
		if connects == 2 {
			cancel()
			return
		}
		srv.Restart(300 * time.Millisecond)
		<-c.Done()
		reasons = append(reasons, c.Err())
	})
	if !errors.Is(err, context.Canceled) || connects != 2 {
		t.Fatalf("Run: %v after %d connects", err, connects)
	}
	if len(reasons) != 1 || !errors.Is(reasons[0], ErrClosed) {
		t.Errorf("first connection ended with %v", reasons)
	}
}

func TestE2EWrongSecret(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: quiet, AuthFailDelay: 20 * time.Millisecond})
	defer srv.Close()
	_, err := dialQuiet(context.Background(), srv.Addr, "WRONG")
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("err = %v", err)
	}
	r := &Reconnector{Addr: srv.Addr, Username: "dialer", Secret: "WRONG", Config: Config{Logger: quiet}}
	if _, _, err := r.Connect(context.Background()); !errors.Is(err, ErrAuth) {
		t.Errorf("Reconnector retried a wrong secret: %v", err)
	}
}

// astgo loops forever on the bare-LF Park reply; we read it and go on.
func TestE2EParkBareLF(t *testing.T) {
	script := map[string]amitest.Outcome{"pk": {Kind: amitest.Answered, Hold: true, Ring: time.Millisecond}}
	srv := amitest.NewServer(amitest.Config{Logger: quiet, Outcome: func(o amitest.Originate) amitest.Outcome { return script[o.ChannelID] }})
	defer srv.Close()
	c := dialFake(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub := c.Subscribe("OriginateResponse")
	if _, err := c.Originate(ctx, Originate{Channel: "Local/100@test", Context: "test", Exten: "100", Async: true, ChannelID: "pk", OtherChannelID: "pk-2"}); err != nil {
		t.Fatal(err)
	}
	drainUntil(t, sub, 1)
	err := c.Park(ctx, Park{Channel: "pk", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Park: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("after Park: %v", err)
	}
}

// 1,000 calls placed at once on one connection all end, each once.
func TestE2EThousandOriginates(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: quiet, Outcome: func(amitest.Originate) amitest.Outcome {
		return amitest.Outcome{Kind: amitest.Busy}
	}})
	defer srv.Close()
	c := dialFake(t, srv)
	sub := c.Subscribe(trackedEvents...)
	calls := map[string]Originate{}
	for j := range 1000 {
		calls["k"+strconv.Itoa(j)] = Originate{Channel: "Local/200@test", Context: "test", Exten: "100"}
	}
	outs := track(t, c, sub, NewTracker(), calls)
	for _, o := range outs {
		if o.Disposition != Busy || o.Reason != 5 || o.Cause != 17 {
			t.Fatalf("outcome %+v", o)
		}
	}
}

// Dialer.MD5 and Reconnector.MD5 log in through the challenge: the fake
// checks the key, so a wrong secret is ErrAuth, and the secret itself
// never crosses the wire.
func TestE2EMD5Login(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: quiet, AuthFailDelay: 20 * time.Millisecond})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := Dialer{Username: "dialer", Secret: "secret", MD5: true, Config: Config{Logger: quiet}}
	c, err := d.Dial(ctx, srv.Addr)
	if err != nil {
		t.Fatalf("MD5 login: %v", err)
	}
	_ = c.Close()
	d.Secret = "WRONG"
	if _, err := d.Dial(ctx, srv.Addr); !errors.Is(err, ErrAuth) {
		t.Errorf("MD5 login with a wrong secret: %v, want ErrAuth", err)
	}
	r := &Reconnector{Addr: srv.Addr, Username: "dialer", Secret: "secret", MD5: true, BootTimeout: 100 * time.Millisecond, Config: Config{Logger: quiet}}
	c, sub, err := r.Connect(ctx)
	if err != nil {
		t.Fatalf("Reconnector MD5 login: %v", err)
	}
	sub.Close()
	_ = c.Close()
	if n := len(srv.ActionsNamed("Challenge")); n != 3 {
		t.Errorf("%d Challenge actions, want 3 (one per MD5 login)", n)
	}
	logins := srv.ActionsNamed("Login")
	if len(logins) != 3 {
		t.Errorf("%d Login actions, want 3", len(logins))
	}
	for _, a := range logins {
		if a.Get("Key") == "" || !strings.EqualFold(a.Get("AuthType"), "MD5") {
			t.Errorf("Login without the MD5 key: %v", a.Headers)
		}
		for _, h := range a.Headers {
			if strings.EqualFold(h.Name, "Secret") {
				t.Errorf("an MD5 Login carried the Secret header")
			}
		}
	}
}
