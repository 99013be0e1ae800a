package callcenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
)

// recorder is a Commander that records what reached it.
type recorder struct {
	calls []string
	err   error
}

func (r *recorder) OriginateCall(_ context.Context, owner string, req OriginateRequest) (string, error) {
	r.calls = append(r.calls, fmt.Sprintf("originate %s %s %s", owner, req.Agent, req.Number))
	return "cc-1", r.err
}
func (r *recorder) RedirectCall(_ context.Context, req RedirectRequest) error {
	r.calls = append(r.calls, "redirect "+req.Agent+" "+req.Exten)
	return r.err
}
func (r *recorder) ParkAndAnnounce(_ context.Context, req ParkRequest) error {
	r.calls = append(r.calls, "park "+req.Agent)
	return r.err
}
func (r *recorder) QueueAction(_ context.Context, req QueueActionRequest) error {
	r.calls = append(r.calls, "queue "+req.Action+" "+req.Agent+" "+req.Queue+" "+req.Reason)
	return r.err
}

func TestCommandEndpoints(t *testing.T) {
	rec := &recorder{}
	srv := newTestServer(t, HandlerConfig{Hub: NewHub(HubConfig{}), Tokens: testTokens, Commands: rec})
	cases := []struct {
		path, token, body string
		code              int
		want              string // recorded call, "" for none
	}{
		{"/v1/originate-call", "sales-secret", `{"agent":"510","number":"5551234"}`, 202, "originate sales 510 5551234"},
		{"/v1/originate-call", "sales-secret", `{"agent":"500","number":"5551234"}`, 403, ""},
		{"/v1/originate-call", "sales-secret", `{"agent":"510","number":"555,1234"}`, 400, ""},
		{"/v1/originate-call", "sales-secret", `{"agent":"510","number":"1","extra":1}`, 400, ""},
		{"/v1/originate-call", "nobody", `{"agent":"510","number":"1"}`, 401, ""},
		{"/v1/redirect-call", "sup-secret", `{"agent":"500","exten":"600"}`, 200, "redirect 500 600"},
		{"/v1/redirect-call", "sup-secret", `{"agent":"500","exten":"600\r\nAction: Logoff"}`, 400, ""},
		{"/v1/park-and-announce", "sup-secret", `{"agent":"501"}`, 200, "park 501"},
		{"/v1/queue-action", "sup-secret", `{"action":"pause","agent":"500","queue":"support","reason":"lunch"}`, 200, "queue pause 500 support lunch"},
		{"/v1/queue-action", "sup-secret", `{"action":"pause","agent":"500","queue":"sales"}`, 403, ""},
		{"/v1/queue-action", "sup-secret", `{"action":"pause","agent":"500","queue":"support","reason":"a\nb"}`, 400, ""},
		{"/v1/queue-action", "sup-secret", `{"action":"sleep","agent":"500","queue":"support"}`, 400, ""},
	}
	for _, c := range cases {
		rec.calls = nil
		code, body := post(t, srv.URL+c.path, c.token, c.body)
		if code != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.path, c.body, code, body, c.code)
		}
		if got := strings.Join(rec.calls, ";"); got != c.want {
			t.Errorf("%s %s: commander got %q, want %q", c.path, c.body, got, c.want)
		}
	}
	// Asterisk's refusal comes back in its words; no connection is 503
	rec.err = &RefusedError{Action: "QueueAdd", Message: "Unable to add interface: Already there"}
	code, body := post(t, srv.URL+"/v1/queue-action", "sup-secret", `{"action":"add","agent":"500","queue":"support"}`)
	var e struct{ Error string }
	_ = json.Unmarshal([]byte(body), &e)
	if code != 409 || e.Error != "Unable to add interface: Already there" {
		t.Errorf("refused: %d %s", code, body)
	}
	rec.err = ErrNotConnected
	if code, _ := post(t, srv.URL+"/v1/park-and-announce", "sup-secret", `{"agent":"500"}`); code != 503 {
		t.Errorf("not connected: %d", code)
	}
	rec.err = fmt.Errorf("%w: agent 500", ErrNoCall)
	if code, _ := post(t, srv.URL+"/v1/redirect-call", "sup-secret", `{"agent":"500","exten":"1"}`); code != 409 {
		t.Errorf("no call: %d", code)
	}
}

// The commands against the fake Asterisk: queue actions with Asterisk's
// wording for the refusals, redirect of an agent on no call, and an
// originate-call whose agent phone does not answer, reported as
// originateFailed to the token that asked and to no one else.
func TestServiceCommandsAgainstFake(t *testing.T) {
	cfg := fakeCallCentre()
	cfg.Outcome = func(o amitest.Originate) amitest.Outcome {
		return amitest.Outcome{Kind: amitest.NoAnswer, Ring: 100 * time.Millisecond}
	}
	fake := amitest.NewServer(cfg)
	t.Cleanup(fake.Close)
	hub := NewHub(HubConfig{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := NewService(ServiceConfig{Addr: fake.Addr, Username: "dialer", Secret: "secret", Hub: hub, Logger: log,
		MinDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	mine, _ := hub.Subscribe(Scope{Agents: []string{"500"}, Queues: []string{"support"}}, "sup", "")
	other, _ := hub.Subscribe(Scope{Agents: []string{"500"}}, "wall", "")
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitType(t, mine, TypeResynced)

	var refused *RefusedError
	err = svc.QueueAction(ctx, QueueActionRequest{Action: QueueAdd, Agent: "500", Queue: "support", Name: "Alice"})
	if !errors.As(err, &refused) || refused.Message != "Unable to add interface: Already there" {
		t.Errorf("add of a member: %v", err)
	}
	err = svc.QueueAction(ctx, QueueActionRequest{Action: QueueAdd, Agent: "500", Queue: "nosuchqueue"})
	if !errors.As(err, &refused) || refused.Message != "Unable to add interface to queue: No such queue" {
		t.Errorf("add to a missing queue: %v", err)
	}
	if err := svc.QueueAction(ctx, QueueActionRequest{Action: QueuePause, Agent: "500", Queue: "support", Reason: "lunch"}); err != nil {
		t.Fatal(err)
	}
	if e := waitType(t, mine, TypeQueueMemberStatus); e.Status != StatusPaused || e.PausedReason != "lunch" {
		t.Errorf("after pause: %+v", e)
	}
	if err := svc.QueueAction(ctx, QueueActionRequest{Action: QueueRemove, Agent: "500", Queue: "support"}); err != nil {
		t.Fatal(err)
	}
	if e := waitType(t, mine, TypeQueueMemberStatus); e.Status != StatusLoggedOff {
		t.Errorf("after remove: %+v", e)
	}
	err = svc.QueueAction(ctx, QueueActionRequest{Action: QueueRemove, Agent: "500", Queue: "support"})
	if !errors.As(err, &refused) || refused.Message != "Unable to remove interface: Not there" {
		t.Errorf("second remove: %v", err)
	}
	if err := svc.RedirectCall(ctx, RedirectRequest{Agent: "500", Exten: "600"}); !errors.Is(err, ErrNoCall) {
		t.Errorf("redirect without a call: %v", err)
	}
	id, err := svc.OriginateCall(ctx, "sup", OriginateRequest{Agent: "500", Number: "5551234"})
	if err != nil || !strings.HasPrefix(id, "cc-") {
		t.Fatalf("originate: %q %v", id, err)
	}
	e := waitType(t, mine, TypeOriginateFailed)
	if e.ActionID != id || e.Reason != "noanswer" {
		t.Errorf("originateFailed = %+v, want actionId %s reason noanswer", e, id)
	}
	sent := fake.ActionsNamed("Originate")
	if len(sent) != 1 || sent[0].Get("Channel") != "Local/500@agent" || sent[0].Get("Exten") != "5551234" || sent[0].Get("ChannelId") != id {
		t.Errorf("Originate sent: %+v", sent)
	}
	select {
	case f := <-other.ch:
		if f.ev.Type == TypeOriginateFailed {
			t.Errorf("another token's subscription got %+v", f.ev)
		}
	default:
	}
}

// The customer leg of an originate-call fails after the agent answered
// (67: OriginateResponse is Success, only DialEnd says BUSY): the DialEnd
// of our ChannelId passes the server-side filter and becomes
// originateFailed; a DialEnd of another call does not even arrive.
func TestOriginateCustomerLegBusy(t *testing.T) {
	cfg := fakeCallCentre()
	cfg.Outcome = func(o amitest.Originate) amitest.Outcome {
		return amitest.Outcome{Kind: amitest.NoAnswer, Ring: time.Minute} // nothing of its own before the test ends
	}
	fake := amitest.NewServer(cfg)
	t.Cleanup(fake.Close)
	hub := NewHub(HubConfig{})
	svc, err := NewService(ServiceConfig{Addr: fake.Addr, Username: "dialer", Secret: "secret", Hub: hub,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := hub.Subscribe(Scope{Agents: []string{"500"}}, "sup", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitType(t, mine, TypeResynced)
	id, err := svc.OriginateCall(ctx, "sup", OriginateRequest{Agent: "500", Number: "5559999"})
	if err != nil {
		t.Fatal(err)
	}
	n0 := svc.AMIEvents()
	H := func(n, v string) amitest.Header { return amitest.Header{Name: n, Value: v} }
	fake.Emit("DialEnd", "call", H("Channel", "Local/501@agent-00000009;1"), H("Uniqueid", "1796112708.9"),
		H("DestChannel", "Local/5551111@customer-0000000a;1"), H("DialStatus", "BUSY"))
	fake.Emit("DialEnd", "call", H("Channel", "Local/500@agent-00000019;1"), H("Uniqueid", id),
		H("DestChannel", "Local/5559999@customer-0000001a;1"), H("DialStatus", "BUSY"))
	e := waitType(t, mine, TypeOriginateFailed)
	if e.ActionID != id || e.Reason != "busy" {
		t.Errorf("originateFailed = %+v", e)
	}
	if n := svc.AMIEvents() - n0; n != 1 {
		t.Errorf("%d DialEnds reached the model, want only ours", n)
	}
}

// A redirect-call's context is the operator's choice, not the client's: a
// token that may command an agent must not send that agent's caller into
// a context with outbound routes (toll fraud). Only RedirectContext and
// RedirectContexts are accepted, before anything reaches Asterisk.
func TestRedirectContextAllowList(t *testing.T) {
	svc, err := NewService(ServiceConfig{Addr: "127.0.0.1:1", Hub: NewHub(HubConfig{}),
		RedirectContexts: []string{"sales"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = svc.RedirectCall(ctx, RedirectRequest{Agent: "500", Exten: "900123456", Context: "from-internal"})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("redirect into an unlisted context: %v, want ErrInvalid", err)
	}
	for _, c := range []string{"", "default", "sales"} {
		// Allowed contexts get as far as the connection (none here).
		if err := svc.RedirectCall(ctx, RedirectRequest{Agent: "500", Exten: "600", Context: c}); !errors.Is(err, ErrNotConnected) {
			t.Errorf("redirect into %q: %v, want ErrNotConnected", c, err)
		}
	}
}

// An agent's name is put into the AgentChannel and MemberInterface dial
// strings (Local/%s@agent): one with '@' or '/' would pick another context
// ("Local/0900123@outbound/n@agent"), one with '&' another channel. A
// token that may command any agent must not be able to dial through them.
func TestAgentInDialStringRefused(t *testing.T) {
	svc, err := NewService(ServiceConfig{Addr: "127.0.0.1:1", Hub: NewHub(HubConfig{}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, agent := range []string{"0900123@outbound/n", "500&PJSIP/trunk/0900123", "500/n", "${EVIL}", "500(x)", `500"`} {
		if _, err := svc.OriginateCall(ctx, "sup", OriginateRequest{Agent: agent, Number: "5551234"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("originate-call as agent %q: %v, want ErrInvalid", agent, err)
		}
		if err := svc.QueueAction(ctx, QueueActionRequest{Action: QueueAdd, Agent: agent, Queue: "support"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("queue add of agent %q: %v, want ErrInvalid", agent, err)
		}
	}
	for _, agent := range []string{"500", "agent-7", "a.b_c+1"} {
		if _, err := svc.OriginateCall(ctx, "sup", OriginateRequest{Agent: agent, Number: "5551234"}); !errors.Is(err, ErrNotConnected) {
			t.Errorf("originate-call as agent %q: %v, want ErrNotConnected", agent, err)
		}
	}
}

// An unexpected failure (a broken AMI connection) is logged with its
// detail; the client gets 502 without it: the PBX's address is no client's
// business.
func TestCommandFailureHidesDetails(t *testing.T) {
	rec := &recorder{err: errors.New("ami: write tcp 10.1.2.3:41000->10.1.2.9:5038: broken pipe")}
	srv := newTestServer(t, HandlerConfig{Hub: NewHub(HubConfig{}), Tokens: testTokens, Commands: rec})
	code, body := post(t, srv.URL+"/v1/park-and-announce", "sup-secret", `{"agent":"500"}`)
	if code != 502 || strings.Contains(body, "10.1.2.9") || strings.Contains(body, "5038") {
		t.Errorf("failed command: %d %s, want 502 without the PBX's address", code, body)
	}
}

// originate-call's callerId is shown to the agent and, unless the dialplan
// sets another, to the customer: a client must not pick any (a bank's
// number). Only one of CallerIDs is accepted; none given, the number.
func TestOriginateCallerIDAllowList(t *testing.T) {
	svc, err := NewService(ServiceConfig{Addr: "127.0.0.1:1", Hub: NewHub(HubConfig{}),
		CallerIDs: []string{`"Sales" <+12125550000>`}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.OriginateCall(ctx, "sup", OriginateRequest{Agent: "500", Number: "5551234", CallerID: `"Bank" <18005551234>`}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an unlisted caller id: %v, want ErrInvalid", err)
	}
	for _, cid := range []string{"", `"Sales" <+12125550000>`} {
		if _, err := svc.OriginateCall(ctx, "sup", OriginateRequest{Agent: "500", Number: "5551234", CallerID: cid}); !errors.Is(err, ErrNotConnected) {
			t.Errorf("caller id %q: %v, want ErrNotConnected", cid, err)
		}
	}
}

// The configured names go into AMI headers and dial strings as they are:
// one that would split a header or a dial string is refused at start.
func TestServiceConfigNamesChecked(t *testing.T) {
	base := func() ServiceConfig {
		return ServiceConfig{Addr: "127.0.0.1:1", Hub: NewHub(HubConfig{}), Logger: slog.New(slog.DiscardHandler)}
	}
	for name, edit := range map[string]func(*ServiceConfig){
		"redirect context with a space":  func(c *ServiceConfig) { c.RedirectContexts = []string{"sales floor"} },
		"default context with a newline": func(c *ServiceConfig) { c.RedirectContext = "default\r\nAction: Originate" },
		"originate context with a comma": func(c *ServiceConfig) { c.OriginateContext = "c2c,1" },
		"parking lot with a pipe":        func(c *ServiceConfig) { c.Parkinglot = "lot|x" },
		"caller id with a newline":       func(c *ServiceConfig) { c.CallerIDs = []string{"+1212\nChannel: x"} },
		"empty caller id":                func(c *ServiceConfig) { c.CallerIDs = []string{""} },
		"over-long caller id":            func(c *ServiceConfig) { c.CallerIDs = []string{strings.Repeat("9", 81)} },
		"agent channel with a control":   func(c *ServiceConfig) { c.AgentChannel = "Local/%s@agent\x00" },
		"state interface with a newline": func(c *ServiceConfig) { c.StateInterface = "Custom:%s\n" },
	} {
		cfg := base()
		edit(&cfg)
		if _, err := NewService(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := base()
	cfg.RedirectContexts, cfg.CallerIDs, cfg.Parkinglot = []string{"sales", "support-1"}, []string{`"Sales" <+12125550000>`}, "default"
	if _, err := NewService(cfg); err != nil {
		t.Errorf("plain names refused: %v", err)
	}
}
