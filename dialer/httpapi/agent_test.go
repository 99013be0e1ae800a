package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestAgentFirst: the agent's channel is originated into the fixed
// context with the customer's number as the extension (Asterisk runs it
// only once the agent answered), and nothing else from the request.
func TestAgentFirst(t *testing.T) {
	e := newEnv(t, testConfig())
	c := createCall(t, e, CallRequest{Number: "415-555-0101", Agent: "500"})
	v := e.waitCall(t, c.ID)
	if v.Agent != "500" || v.Number != numAnswer || v.Disposition == "" {
		t.Errorf("agent-first call: %+v", v)
	}
	if r := e.do(t, "GET", "/v1/calls/"+c.ID, secretReader, nil); r.code != 200 {
		t.Errorf("GET the call with campaigns:read: %d %s", r.code, r.body)
	}
	if r := e.do(t, "GET", "/v1/calls/"+c.ID, secretSlow, nil); r.code != 404 {
		t.Errorf("GET another token's call: %d %s", r.code, r.body)
	}
	origs := e.ast.ActionsNamed("Originate")
	if len(origs) != 1 {
		t.Fatalf("%d originates", len(origs))
	}
	a := origs[0]
	if a.Get("Channel") != "PJSIP/500" || a.Get("Context") != "fsivr-agent-first" || a.Get("Exten") != numAnswer ||
		a.Get("Priority") != "1" || a.Get("Application") != "" {
		t.Errorf("agent-first originate: %+v", a.Headers)
	}
	if r := e.do(t, "POST", "/v1/calls", secretCaller, jsonBody(CallRequest{Number: numAnswer, Agent: "PJSIP/evil"})); r.code != 400 {
		t.Errorf("unknown agent: %d %s", r.code, r.body)
	}
	if r := e.do(t, "POST", "/v1/calls", secretCaller, jsonBody(CallRequest{Number: numAnswer, Agent: "500", Message: "welcome"})); r.code != 400 {
		t.Errorf("agent and message: %d %s", r.code, r.body)
	}
}

// TestMetrics: requests are counted by route and status, refusals by
// reason.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, testConfig())
	e.api.m = m
	e.do(t, "POST", "/v1/calls", "", jsonBody(CallRequest{Number: numAnswer, Message: "welcome"}))
	e.do(t, "POST", "/v1/calls", secretCaller, jsonBody(CallRequest{Number: "112", Message: "welcome"}))
	e.do(t, "GET", "/v1/openapi.yaml", "", nil)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`fsivr_dialer_api_requests_total{code="401",route="POST /v1/calls"} 1`,
		`fsivr_dialer_api_requests_total{code="403",route="POST /v1/calls"} 1`,
		`fsivr_dialer_api_requests_total{code="200",route="GET /v1/openapi.yaml"} 1`,
		`fsivr_dialer_api_refusals_total{reason="missing_token"} 1`,
		`fsivr_dialer_api_refusals_total{reason="emergency_number"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s\n%s", want, rec.Body)
		}
	}
}
