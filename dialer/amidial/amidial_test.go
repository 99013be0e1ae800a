package amidial_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/amidial"
	"github.com/fsivr/fsivr/dialer/backendtest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a backend against srv until the test ends.
func start(t *testing.T, srv *amitest.Server, tweak ...func(*amidial.Config)) *amidial.Backend {
	t.Helper()
	cfg := amidial.Config{Addr: srv.Addr, Username: "dialer", Secret: "secret", Logger: quiet(),
		AMI: ami.Config{Logger: quiet()}}
	for _, f := range tweak {
		f(&cfg)
	}
	b := amidial.New(cfg)
	backendtest.RunUntilCleanup(t, b.Run, b.Ready())
	return b
}

func call(exten string) dialer.Call {
	return dialer.Call{
		AttemptID: dialer.NewID(), Campaign: "camp", ContactID: "c1", Number: "+12125550100", Trunk: "t",
		Channel: "Local/" + exten + "@test", CallerID: `"Dialer" <1000>`,
		Answer:  dialer.Answer{Context: "test", Exten: "100", Priority: "1"},
		Timeout: 2 * time.Second, Vars: map[string]string{"name": "Ann"},
	}
}

// TestOutcomes: each captured outcome of amitest maps to its disposition.
func TestOutcomes(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{RandomOrder: true, Seed: 3, Outcome: func(o amitest.Originate) amitest.Outcome {
		out := amitest.DefaultOutcome(o)
		out.Ring = 20 * time.Millisecond
		return out
	}})
	defer srv.Close()
	b := start(t, srv)
	cases := []struct {
		exten string
		want  dialer.Disposition
	}{
		{"100", dialer.Answered},
		{"200", dialer.Busy},
		{"300", dialer.NoAnswer},
		{"250", dialer.Congestion},
		{"260", dialer.Rejected},
		{"999", dialer.InvalidNumber},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.exten, func(t *testing.T) {
			cl := call(c.exten)
			out, err := b.Originate(ctx, cl)
			if err != nil || out.Disposition != c.want {
				t.Fatalf("Originate(%s) = %+v, %v; want %s", c.exten, out, err, c.want)
			}
			if c.want == dialer.Answered && out.Answered.IsZero() {
				t.Error("answered without an answer time")
			}
			var got *amitest.Action
			for _, a := range srv.ActionsNamed("Originate") {
				if a.Get("ChannelId") == cl.AttemptID {
					got = &a
				}
			}
			if got == nil {
				t.Fatal("no Originate with ChannelId = attempt id reached amitest")
			}
			vars := map[string]bool{}
			for _, h := range got.Headers {
				if h.Name == "Variable" {
					vars[h.Value] = true
				}
			}
			for _, want := range []string{ami.DefaultVariable + "=" + cl.AttemptID, "FSIVR_CAMPAIGN=camp", "FSIVR_CONTACT=c1", "name=Ann"} {
				if !vars[want] {
					t.Errorf("Variable %s missing: %v", want, vars)
				}
			}
			for k, v := range map[string]string{"Channel": cl.Channel, "Context": "test", "Exten": "100", "Priority": "1",
				"Async": "true", "Timeout": "2000", "CallerID": `"Dialer" <1000>`, "OtherChannelId": cl.AttemptID + "-2"} {
				if got.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, got.Get(k), v)
				}
			}
		})
	}
	// Unknown technology and a missing target extension.
	cl := call("100")
	cl.Channel = "Foo/1"
	if out, err := b.Originate(ctx, cl); err != nil || out.Disposition != dialer.InvalidNumber {
		t.Errorf("unknown tech: %+v %v", out, err)
	}
	cl = call("100")
	cl.Answer.Exten = "999"
	if out, err := b.Originate(ctx, cl); err != nil || out.Disposition != dialer.InvalidNumber {
		t.Errorf("missing extension: %+v %v", out, err)
	}
}

// TestApplicationAnswer sends Application/Data instead of a dialplan target.
func TestApplicationAnswer(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{})
	defer srv.Close()
	b := start(t, srv)
	cl := call("100")
	cl.Answer = dialer.Answer{Application: "Playback", Data: "tt-monkeys"}
	out, err := b.Originate(context.Background(), cl)
	if err != nil || out.Disposition != dialer.Answered {
		t.Fatalf("%+v %v", out, err)
	}
	a := srv.ActionsNamed("Originate")[0]
	if a.Get("Application") != "Playback" || a.Get("Data") != "tt-monkeys" || a.Get("Context") != "" {
		t.Errorf("headers %+v", a.Headers)
	}
}

// TestValuesValidated: nothing reaches Asterisk when a value could inject
// a header or split a variable.
func TestValuesValidated(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{})
	defer srv.Close()
	b := start(t, srv)
	bad := []func(*dialer.Call){
		func(c *dialer.Call) { c.Vars["name"] = "Ann\r\nAction: Hangup" },
		func(c *dialer.Call) { c.Vars["name"] = "a,b=c" },
		func(c *dialer.Call) { c.CallerID = "x\nAction: Command" },
		func(c *dialer.Call) { c.Channel = "Local/100@test|PJSIP/1" },
		func(c *dialer.Call) { c.Answer.Data = strings.Repeat("x", 300) },
		func(c *dialer.Call) { c.Answer.Priority = "one" },
		func(c *dialer.Call) { c.Vars["bad name"] = "x" },
	}
	for i, mutate := range bad {
		cl := call("100")
		mutate(&cl)
		out, err := b.Originate(context.Background(), cl)
		if err != nil || out.Disposition != dialer.Failed {
			t.Errorf("case %d: %+v %v, want failed without sending", i, out, err)
		}
	}
	if n := len(srv.ActionsNamed("Originate")); n != 0 {
		t.Errorf("%d Originates sent despite invalid values", n)
	}
}

// TestNotConnectedIsNotPlaced: with Asterisk gone, Originate says
// provably not placed, in a plain word without the address (the error's
// text is the attempt's reason, which the HTTP API shows to clients).
func TestNotConnectedIsNotPlaced(t *testing.T) {
	b := amidial.New(amidial.Config{Addr: "127.0.0.1:1", Logger: quiet()})
	_, err := b.Originate(context.Background(), call("100"))
	if !errors.Is(err, dialer.ErrNotPlaced) || !errors.Is(err, amidial.ErrNotConnected) {
		t.Errorf("err = %v, want ErrNotConnected, an ErrNotPlaced", err)
	}
	if err != nil && err.Error() != "not connected" {
		t.Errorf("reason %q, want \"not connected\" (no address)", err.Error())
	}
	if _, _, err := b.Reconcile(context.Background(), call("100")); !errors.Is(err, amidial.ErrNotConnected) || strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("reconcile while not connected: %v", err)
	}
}

// TestThrottleBurst: a burst of congestion is the trunk throttling.
func TestThrottleBurst(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Outcome: func(o amitest.Originate) amitest.Outcome {
		return amitest.Outcome{Kind: amitest.Congestion, Ring: 5 * time.Millisecond}
	}})
	defer srv.Close()
	b := start(t, srv)
	var got []dialer.Disposition
	for range 4 {
		out, err := b.Originate(context.Background(), call("250"))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Disposition)
	}
	want := []dialer.Disposition{dialer.Congestion, dialer.Congestion, dialer.Throttled, dialer.Throttled}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dispositions %v, want %v", got, want)
	}
}

// TestCampaignAgainstAmitest runs the engine over amidial against amitest
// with random outcomes, ring and talk times: amitest never sees more
// originates in flight than the ports, every contact is dialed per policy.
func TestCampaignAgainstAmitest(t *testing.T) {
	var mu sync.Mutex
	n := 0
	kinds := []amitest.OutcomeKind{amitest.Answered, amitest.Busy, amitest.NoAnswer, amitest.Answered, amitest.Congestion, amitest.Rejected}
	srv := amitest.NewServer(amitest.Config{RandomOrder: true, Seed: 11, Outcome: func(o amitest.Originate) amitest.Outcome {
		mu.Lock()
		defer mu.Unlock()
		n++
		k := kinds[n%len(kinds)]
		return amitest.Outcome{Kind: k, Ring: time.Duration(n%7+1) * 3 * time.Millisecond, Talk: time.Duration(n%5) * 4 * time.Millisecond}
	}})
	defer srv.Close()
	b := start(t, srv)
	camp := dialer.Campaign{
		ID:     "ami",
		Trunks: []dialer.Trunk{{Name: "local", Channel: "Local/${number}@test", Ports: 5, CPS: 100}},
		Answer: dialer.Answer{Context: "test", Exten: "100", Priority: "1"},
		Hours:  dialer.Hours{Windows: []dialer.Window{{From: "00:00", To: "24:00"}}},
		Retries: map[dialer.Disposition]dialer.Retry{
			dialer.Busy: {Max: 1, Delay: 10 * time.Millisecond}, dialer.NoAnswer: {Max: 1, Delay: 10 * time.Millisecond},
			dialer.Congestion: {Max: 1, Delay: 10 * time.Millisecond},
		},
		RingTimeout: time.Second,
		MaxAttempts: 2,
	}
	store := dialer.NewMemStore()
	eng, err := dialer.NewEngine(camp, dialer.Options{Store: store, Backend: b, Logger: quiet(), Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_ = eng.Create(ctx)
	var cs []dialer.Contact
	for i := range 60 {
		cs = append(cs, dialer.Contact{ID: fmt.Sprintf("c%02d", i), Number: fmt.Sprintf("+4420794600%02d", i), Zones: []string{"UTC"}})
	}
	if _, _, err := eng.Add(ctx, cs); err != nil {
		t.Fatal(err)
	}
	p, err := eng.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if peak := srv.PeakInFlightOriginates(); peak > 5 || peak == 0 {
		t.Errorf("amitest saw %d originates in flight, 5 ports", peak)
	}
	origs := srv.ActionsNamed("Originate")
	if len(origs) != p.Attempts {
		t.Errorf("amitest got %d Originates, store counts %d attempts", len(origs), p.Attempts)
	}
	finals := 0
	for _, v := range p.Final {
		finals += v
	}
	if finals != 60 || p.Final[dialer.StatusAnswered] == 0 || p.ByDisposition[dialer.Busy] == 0 {
		t.Errorf("progress %+v", p)
	}
	perContact := map[string]int{}
	for _, a := range origs {
		for _, h := range a.Headers {
			if v, ok := strings.CutPrefix(h.Value, "FSIVR_CONTACT="); ok && h.Name == "Variable" {
				perContact[v]++
			}
		}
	}
	for _, c := range cs {
		st, atts, _ := store.Contact(ctx, "ami", c.ID)
		if perContact[c.ID] != len(atts) || len(atts) > 2 {
			t.Errorf("%s: amitest %d originates, store %d attempts (%s)", c.ID, perContact[c.ID], len(atts), st)
		}
	}
}

// TestReconcileAdoptsLiveCall: a dialer dies with calls up; another one
// finds them by ChannelId, follows their events and gets their outcome.
func TestReconcileAdoptsLiveCall(t *testing.T) {
	srv := amitest.NewServer(amitest.Config{Logger: quiet(), Outcome: func(o amitest.Originate) amitest.Outcome {
		if strings.HasPrefix(o.Channel, "Local/200@") {
			return amitest.Outcome{Kind: amitest.Busy, Ring: 1500 * time.Millisecond}
		}
		return amitest.Outcome{Kind: amitest.Answered, Ring: 20 * time.Millisecond, Talk: 1500 * time.Millisecond}
	}})
	defer srv.Close()
	first := amidial.New(amidial.Config{Addr: srv.Addr, Username: "dialer", Secret: "secret", Logger: quiet(),
		AMI: ami.Config{Logger: quiet()}})
	runCtx, stopFirst := context.WithCancel(context.Background())
	firstDone := make(chan struct{})
	go func() { defer close(firstDone); _ = first.Run(runCtx) }()
	<-first.Ready()
	second := start(t, srv)
	answered, busy := call("100"), call("200")
	callCtx, abandon := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range []dialer.Call{answered, busy} {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = first.Originate(callCtx, c) }()
	}
	if err := srv.WaitActions(context.Background(), "Originate", 2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the answered one is up, the busy one rings
	stopFirst()
	abandon()
	<-firstDone
	wg.Wait()
	ctx := context.Background()
	for _, c := range []dialer.Call{answered, busy} {
		if st, _, err := second.Reconcile(ctx, c); st != dialer.StateLive || err != nil {
			t.Fatalf("Reconcile %s while up = %s, %v", c.Channel, st, err)
		}
	}
	want := map[string]dialer.Disposition{answered.AttemptID: dialer.Answered, busy.AttemptID: dialer.Busy}
	deadline := time.Now().Add(10 * time.Second)
	for len(want) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		for _, c := range []dialer.Call{answered, busy} {
			d, ok := want[c.AttemptID]
			if !ok {
				continue
			}
			st, out, err := second.Reconcile(ctx, c)
			if err != nil || st == dialer.StateUnknown {
				t.Fatalf("Reconcile %s = %s, %v", c.Channel, st, err)
			}
			if st == dialer.StateEnded {
				if out.Disposition != d {
					t.Errorf("%s: %s, want %s (cause %s)", c.Channel, out.Disposition, d, out.Cause)
				}
				delete(want, c.AttemptID)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("no outcome for %d adopted calls", len(want))
	}
	if st, _, _ := second.Reconcile(ctx, call("100")); st != dialer.StateUnknown {
		t.Errorf("a call Asterisk never had: %s, want unknown", st)
	}
}
