package httpapi_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dialertest"
	"github.com/fsivr/fsivr/dialer/httpapi"
)

// A click-to-call API on the scripted fake backend: a premium-rate number
// is refused with its reason, an allowed one is queued, dialed and ends
// with its CDR.
func Example() {
	fake := dialertest.New(nil, func(dialer.Call, int) dialertest.Step {
		return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Answered}, Delay: 10 * time.Millisecond}
	})
	api, err := httpapi.New(httpapi.Config{
		Tokens: []httpapi.Token{{Token: callcenter.Token{Name: "web", SHA256: callcenter.HashToken("s3cret")},
			Scopes: []httpapi.Scope{httpapi.ScopeCallsCreate}}},
		Trunks:   []httpapi.Trunk{{Name: "carrier", Backend: "fake", Channel: "PJSIP/${number}@carrier"}},
		Messages: map[string]string{"reminder": "custom/reminder"},
		Numbers:  httpapi.NumberPolicy{AllowedRegions: []string{"US"}},
	}, httpapi.Options{Store: dialer.NewMemStore(), Backends: map[string]dialer.Backend{"fake": fake},
		Logger: slog.New(slog.DiscardHandler), EnginePoll: 20 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer api.Close()
	srv := httptest.NewServer(api)
	defer srv.Close()
	call := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	code, p := call("POST", "/v1/calls", `{"number":"+19002345678","message":"reminder"}`)
	fmt.Println(code, p["reason"])
	code, c := call("POST", "/v1/calls", `{"number":"+14155550100","message":"reminder"}`)
	fmt.Println(code, c["state"])
	for c["state"] != "ended" {
		time.Sleep(10 * time.Millisecond)
		_, c = call("GET", "/v1/calls/"+c["id"].(string), "")
	}
	fmt.Println(c["state"], c["disposition"], c["number"])
	// Output:
	// 403 premium_rate
	// 202 queued
	// ended answered +14155550100
}
