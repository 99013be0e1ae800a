package httpapi

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsivr/fsivr/dialer"
)

func createCall(t *testing.T, e *env, req CallRequest, hdr ...string) CallView {
	t.Helper()
	r := e.do(t, "POST", "/v1/calls", secretCaller, jsonBody(req), hdr...)
	if r.code != http.StatusAccepted {
		t.Fatalf("POST /v1/calls: %d %s", r.code, r.body)
	}
	var v CallView
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatal(err)
	}
	if v.ID == "" || r.header.Get("Location") != "/v1/calls/"+v.ID {
		t.Fatalf("no id or Location: %s %v", r.body, r.header)
	}
	return v
}

// TestClickToCallAsterisk: answered, busy and no-answer calls over real
// HTTP against the fake Asterisk; the answered one's Playback reached the
// fake with nothing from the request but the number, and its CDR is the
// call's.
func TestClickToCallAsterisk(t *testing.T) {
	e := newEnv(t, testConfig())
	before := time.Now()
	answered := createCall(t, e, CallRequest{Number: numAnswer, Message: "welcome"})
	busy := createCall(t, e, CallRequest{Number: numBusy, Message: "welcome"})
	noAnswer := createCall(t, e, CallRequest{Number: "(415) 555-0103", Message: "welcome"})

	v := e.waitCall(t, answered.ID)
	if v.Disposition != dialer.Answered || v.Status != string(dialer.StatusAnswered) || v.Number != numAnswer || v.Trunk != "carrier" {
		t.Errorf("answered call: %+v", v)
	}
	if v.Started == nil || v.Answered == nil || v.Ended == nil || v.Started.Before(before.Add(-time.Second)) ||
		v.Answered.Before(*v.Started) || !v.Ended.After(*v.Answered) {
		t.Errorf("answered call times out of order: %+v", v)
	}
	if v.DurationMS < 100 || v.DurationMS > 5000 || v.DurationMS != v.Ended.Sub(*v.Answered).Milliseconds() {
		t.Errorf("duration %d ms for a 150 ms talk", v.DurationMS)
	}
	if got := e.waitCall(t, busy.ID); got.Disposition != dialer.Busy || got.Cause != "17" || got.Answered != nil || got.DurationMS != 0 {
		t.Errorf("busy call: %+v", got)
	}
	if got := e.waitCall(t, noAnswer.ID); got.Disposition != dialer.NoAnswer || got.Number != numNoAnswer {
		t.Errorf("no-answer call: %+v", got)
	}
	origs := e.ast.ActionsNamed("Originate")
	if len(origs) != 3 {
		t.Fatalf("%d originates, want 3", len(origs))
	}
	for _, a := range origs {
		if !strings.Contains(a.Get("Channel"), numAnswer) {
			continue
		}
		if a.Get("Application") != "Playback" || a.Get("Data") != "custom/welcome" || a.Get("Channel") != "PJSIP/"+numAnswer+"@carrier" ||
			a.Get("CallerID") != "+14155550000" || a.Get("ChannelId") != v.Attempt {
			t.Errorf("originate of the answered call: %+v", a.Headers)
		}
		for _, h := range a.Headers {
			if h.Name != "Variable" {
				continue
			}
			name, _, _ := strings.Cut(h.Value, "=")
			if !slices.Contains([]string{"FSIVR_CALL_ID", "FSIVR_CAMPAIGN", "FSIVR_CONTACT"}, name) {
				t.Errorf("originate carries variable %q", h.Value)
			}
		}
	}
}

// TestIdempotencyKey: the same key twice dials once and answers the same
// call; the same key with another body is refused.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t, testConfig())
	req := CallRequest{Number: numAnswer, Message: "welcome"}
	first := createCall(t, e, req, "Idempotency-Key", "order-42")
	var wg sync.WaitGroup
	ids := make([]string, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(t, "POST", "/v1/calls", secretCaller, jsonBody(req), "Idempotency-Key", "order-42")
			var v CallView
			_ = json.Unmarshal(r.body, &v)
			if r.code != http.StatusAccepted || r.header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("retry: %d %v %s", r.code, r.header, r.body)
			}
			ids[i] = v.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != first.ID {
			t.Errorf("retry answered call %q, want %q", id, first.ID)
		}
	}
	e.waitCall(t, first.ID)
	other := e.do(t, "POST", "/v1/calls", secretCaller, jsonBody(CallRequest{Number: numBusy, Message: "welcome"}), "Idempotency-Key", "order-42")
	if other.code != http.StatusUnprocessableEntity || other.problem(t).Reason != ReasonIdempotencyReused {
		t.Errorf("same key, other body: %d %s", other.code, other.body)
	}
	if n := len(e.ast.ActionsNamed("Originate")); n != 1 {
		t.Errorf("%d originates for one Idempotency-Key, want 1", n)
	}
}

// TestRefusals: each refusal is a problem document with its reason, logged
// with the token's name (never a secret), and nothing is dialed.
func TestRefusals(t *testing.T) {
	e := newEnv(t, testConfig())
	good := CallRequest{Number: numAnswer, Message: "welcome"}
	huge := bytes.Repeat([]byte("x"), 10<<20)
	cases := []struct {
		name   string
		token  string
		body   io.Reader
		status int
		reason Reason
	}{
		{"no token", "", jsonBody(good), 401, ReasonNoToken},
		{"wrong token", "not-a-token", jsonBody(good), 401, ReasonBadToken},
		{"token without the scope", secretReader, jsonBody(good), 403, ReasonScope},
		{"premium-rate number", secretCaller, jsonBody(CallRequest{Number: "+19002345678", Message: "welcome"}), 403, ReasonPremium},
		{"premium-rate GB", secretCaller, jsonBody(CallRequest{Number: "+449098765432", Message: "welcome"}), 403, ReasonPremium},
		{"emergency 911", secretCaller, jsonBody(CallRequest{Number: "911", Message: "welcome"}), 403, ReasonEmergency},
		{"emergency 112", secretCaller, jsonBody(CallRequest{Number: "112", Message: "welcome"}), 403, ReasonEmergency},
		{"emergency 999", secretCaller, jsonBody(CallRequest{Number: "999", Message: "welcome"}), 403, ReasonEmergency},
		{"Caribbean +1", secretCaller, jsonBody(CallRequest{Number: "+18765230123", Message: "welcome"}), 403, ReasonCountry},
		{"outside the countries", secretCaller, jsonBody(CallRequest{Number: "+33123456789", Message: "welcome"}), 403, ReasonCountry},
		{"garbage number", secretCaller, jsonBody(CallRequest{Number: "+1415\r\nAction: Originate", Message: "welcome"}), 400, ReasonInvalidNumber},
		{"garbage body", secretCaller, strings.NewReader(`{"number":`), 400, ReasonBadRequest},
		{"unknown field", secretCaller, strings.NewReader(`{"number":"+14155550101","message":"welcome","vars":{"x":"y"}}`), 400, ReasonBadRequest},
		{"10 MB body", secretCaller, bytes.NewReader(huge), 413, ReasonBodyTooLarge},
		{"webhook to another host", secretCaller, jsonBody(CallRequest{Number: numAnswer, Message: "welcome", Webhook: "https://evil.example/hook"}), 403, ReasonWebhookHost},
		{"unknown message", secretCaller, jsonBody(CallRequest{Number: numAnswer, Message: "../../etc/passwd"}), 400, ReasonBadRequest},
		{"caller id not the trunk's", secretCaller, jsonBody(CallRequest{Number: numAnswer, Message: "welcome", CallerID: "+19005550000"}), 400, ReasonBadRequest},
	}
	for _, c := range cases {
		r := e.do(t, "POST", "/v1/calls", c.token, c.body)
		if r.code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, r.code, c.status, r.body)
			continue
		}
		if p := r.problem(t); p.Reason != c.reason || p.Detail == "" {
			t.Errorf("%s: %+v, want reason %s", c.name, p, c.reason)
		}
	}
	// Over its rate: the slow token's burst of 1 is spent by its first call.
	if r := e.do(t, "POST", "/v1/calls", secretSlow, jsonBody(CallRequest{Number: "+14155550199", Message: "welcome", Trunk: "nope"})); r.code != 400 {
		t.Errorf("slow token's first request: %d %s", r.code, r.body)
	}
	r := e.do(t, "POST", "/v1/calls", secretSlow, jsonBody(good))
	if r.code != 429 || r.problem(t).Reason != ReasonRate || r.header.Get("Retry-After") == "" {
		t.Errorf("over the rate: %d %s", r.code, r.body)
	}
	if n := len(e.ast.ActionsNamed("Originate")); n != 0 {
		t.Errorf("%d originates after refusals, want 0", n)
	}
	logs := e.logs.String()
	for _, s := range []string{secretCaller, secretReader, secretSlow, "not-a-token"} {
		if strings.Contains(logs, s) {
			t.Errorf("a secret is in the logs: %q", s)
		}
	}
	for _, want := range []string{`"token":"reader"`, `"token":"slow"`, `"reason":"scope_missing"`, `"reason":"premium_rate"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

// TestDailyCapAndConcurrency: the per-destination daily cap and the
// token's cap on calls in flight.
func TestDailyCapAndConcurrency(t *testing.T) {
	cfg := testConfig()
	cfg.Numbers.DailyCap = 2
	cfg.Tokens[0].MaxCalls = 1
	e := newEnv(t, cfg)
	first := createCall(t, e, CallRequest{Number: numAnswer, Message: "welcome"})
	r := e.do(t, "POST", "/v1/calls", secretCaller, jsonBody(CallRequest{Number: numBusy, Message: "welcome"}))
	if r.code != 429 || r.problem(t).Reason != ReasonConcurrency {
		t.Errorf("second call in flight: %d %s", r.code, r.body)
	}
	e.waitCall(t, first.ID)
	waitIdle(t, e.api, "web")
	second := createCall(t, e, CallRequest{Number: numAnswer, Message: "welcome"})
	e.waitCall(t, second.ID)
	waitIdle(t, e.api, "web")
	r = e.do(t, "POST", "/v1/calls", secretCaller, jsonBody(CallRequest{Number: numAnswer, Message: "welcome"}))
	if r.code != 429 || r.problem(t).Reason != ReasonDailyCap {
		t.Errorf("third call today: %d %s", r.code, r.body)
	}
	if n := len(e.ast.ActionsNamed("Originate")); n != 2 {
		t.Errorf("%d originates, want 2", n)
	}
}

// waitIdle waits until the token has no call in flight (the engine's Run
// returns a moment after the call's outcome is stored).
func waitIdle(t *testing.T, h *Handler, name string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		for _, ts := range h.tokens {
			if ts.Name == name {
				ts.mu.Lock()
				n := ts.inFlight
				ts.mu.Unlock()
				if n == 0 {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("token %s still has calls in flight", name)
}

// TestWebhookSignedAndRetried: the ended call is posted to the allowed
// host, signed; a failed delivery is retried.
func TestWebhookSignedAndRetried(t *testing.T) {
	type got struct {
		sig  string
		body []byte
	}
	var mu sync.Mutex
	var deliveries []got
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		deliveries = append(deliveries, got{r.Header.Get("X-Fsivr-Signature"), b})
		n := len(deliveries)
		mu.Unlock()
		if n == 1 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
		}
	}))
	defer hook.Close()
	e := newEnv(t, testConfig())
	c := createCall(t, e, CallRequest{Number: numBusy, Message: "welcome", Webhook: hook.URL + "/hook"})
	e.waitCall(t, c.ID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(deliveries)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(deliveries) != 2 {
		t.Fatalf("%d deliveries, want 2 (one failed, one retried)", len(deliveries))
	}
	d := deliveries[1]
	var ev WebhookEvent
	if err := json.Unmarshal(d.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Event != "call.ended" || ev.Call.ID != c.ID || ev.Call.Disposition != dialer.Busy {
		t.Errorf("webhook event %+v", ev)
	}
	ts, _, _ := strings.Cut(strings.TrimPrefix(d.sig, "t="), ",")
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		t.Fatalf("signature %q: %v", d.sig, err)
	}
	want := Sign("hook-secret", time.Unix(unix, 0), d.body)
	if !hmac.Equal([]byte(d.sig), []byte(want)) {
		t.Errorf("signature %q, want %q", d.sig, want)
	}
	if strings.Contains(Sign("other", time.Unix(unix, 0), d.body), d.sig) {
		t.Error("the signature does not depend on the secret")
	}
}
