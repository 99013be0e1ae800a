package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/callcenter"
)

// TestGuard: what Guard wraps (dialer serve's /metrics) answers only a
// token with the scope, and refuses the others as the API's routes do,
// with problem documents and a log line naming the token.
func TestGuard(t *testing.T) {
	const secretMetrics = "metrics-secret-5"
	cfg := testConfig()
	cfg.Tokens = append(cfg.Tokens, Token{Token: callcenter.Token{Name: "prometheus", SHA256: callcenter.HashToken(secretMetrics)},
		Scopes: []Scope{ScopeMetricsRead}, Rate: 100, Burst: 100})
	e := newEnv(t, cfg)
	srv := httptest.NewServer(e.api.Guard("GET /metrics", ScopeMetricsRead, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "fsivr_dialer_claims_total 7")
	})))
	t.Cleanup(srv.Close)
	get := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(""); code != http.StatusUnauthorized || strings.Contains(body, "claims") {
		t.Errorf("no token: %d %q", code, body)
	}
	if code, body := get("not-a-token"); code != http.StatusUnauthorized || strings.Contains(body, "claims") {
		t.Errorf("unknown token: %d %q", code, body)
	}
	if code, body := get(secretOps); code != http.StatusForbidden || !strings.Contains(body, "metrics:read") {
		t.Errorf("token without metrics:read: %d %q", code, body)
	}
	if code, body := get(secretMetrics); code != http.StatusOK || !strings.Contains(body, "fsivr_dialer_claims_total 7") {
		t.Errorf("metrics token: %d %q", code, body)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"token":"ops"`) || strings.Contains(logs, secretOps) {
		t.Errorf("refusal log should name the token, never its secret: %s", logs)
	}
}
