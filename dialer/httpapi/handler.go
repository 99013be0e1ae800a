package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/fsivr/fsivr/callcenter"
)

// Handler is the HTTP API. Mount it at the server's root (its paths start
// with /v1/); Close stops the engines it runs.
type Handler struct {
	cfg Config
	o   Options
	log *slog.Logger
	m   *metrics
	mux *http.ServeMux

	tokens map[string]*tokenState // by SHA-256
	routes []string               // "METHOD /path" as registered
	caps   dailyCaps

	ctx    context.Context // the engines' and webhooks' lifetime
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	calls     map[string]*callState
	idem      map[string]*idemEntry // token name + "\x00" + key
	pruned    time.Time             // when idem and calls were last pruned
	campaigns map[string]*campaignState
	order     []string // campaign ids in creation order
}

type tokenState struct {
	*Token
	lim  *rate.Limiter
	reqs chan struct{} // its requests being served (MaxRequests)

	mu       sync.Mutex
	inFlight int // click-to-call calls not ended
}

// New builds the API from its config and collaborators.
func New(cfg Config, o Options) (*Handler, error) {
	if err := cfg.check(o); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.HTTPClient == nil {
		// A webhook host must not bounce the post elsewhere (an internal
		// address): redirects are not followed.
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, o: o, log: o.Logger.With("component", "httpapi"), m: m, mux: http.NewServeMux(),
		tokens: map[string]*tokenState{}, calls: map[string]*callState{}, idem: map[string]*idemEntry{},
		campaigns: map[string]*campaignState{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	for i := range h.cfg.Tokens {
		t := &h.cfg.Tokens[i]
		if h.tokens[t.SHA256] != nil {
			return nil, fmt.Errorf("%w: token %q: the same secret as another token", ErrConfig, t.Name)
		}
		h.tokens[t.SHA256] = &tokenState{Token: t, lim: rate.NewLimiter(rate.Limit(t.Rate), t.Burst), reqs: make(chan struct{}, t.MaxRequests)}
	}
	h.route("GET /v1/openapi.yaml", "", h.openapi)
	h.route("POST /v1/calls", ScopeCallsCreate, h.createCall)
	h.route("GET /v1/calls/{id}", ScopeCallsCreate, h.getCall, ScopeCampaignsRead)
	h.route("POST /v1/campaigns", ScopeCampaignsWrite, h.createCampaign)
	h.route("GET /v1/campaigns", ScopeCampaignsRead, h.listCampaigns)
	h.route("GET /v1/campaigns/{id}", ScopeCampaignsRead, h.getCampaign)
	h.route("POST /v1/campaigns/{id}/pause", ScopeCampaignsWrite, h.setState)
	h.route("POST /v1/campaigns/{id}/resume", ScopeCampaignsWrite, h.setState)
	h.route("POST /v1/campaigns/{id}/cancel", ScopeCampaignsWrite, h.setState)
	h.route("GET /v1/campaigns/{id}/attempts", ScopeCampaignsRead, h.listAttempts)
	h.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		h.m.count("unmatched", http.StatusNotFound)
		writeProblem(w, http.StatusNotFound, ReasonNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return h, nil
}

// Routes returns the patterns the handler serves ("POST /v1/calls").
func (h *Handler) Routes() []string { return append([]string(nil), h.routes...) }

// CallcenterTokens returns the tokens with events:read in the call-centre
// API's form, for a server that also mounts callcenter.NewHandler.
func (h *Handler) CallcenterTokens() []callcenter.Token {
	var out []callcenter.Token
	for _, t := range h.cfg.Tokens {
		if t.has(ScopeEventsRead) {
			out = append(out, t.Token)
		}
	}
	return out
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Close stops every engine the API runs (their calls in flight are left to
// the engines' drain) and waits for them and for pending webhooks.
func (h *Handler) Close() {
	h.cancel()
	h.wg.Wait()
}

type authedFunc func(w http.ResponseWriter, r *http.Request, t *tokenState)

// route registers pattern behind the guards: the token, its scope (or one
// of the alternatives), its rate. An empty scope is public (the OpenAPI
// document).
func (h *Handler) route(pattern string, scope Scope, fn authedFunc, or ...Scope) {
	h.routes = append(h.routes, pattern)
	h.mux.HandleFunc(pattern, h.guarded(pattern, scope, fn, or...))
}

// Guard serves next behind the same guards as the API's own routes (a
// token with scope, its rate, its cap on requests at once; refusals as
// problem documents, logged and counted as pattern): for what shares the
// API's listener, such as `dialer serve`'s /metrics with ScopeMetricsRead.
func (h *Handler) Guard(pattern string, scope Scope, next http.Handler) http.Handler {
	return h.guarded(pattern, scope, func(w http.ResponseWriter, r *http.Request, _ *tokenState) {
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) guarded(pattern string, scope Scope, fn authedFunc, or ...Scope) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() { h.m.count(pattern, sw.code) }()
		if scope == "" {
			fn(sw, r, nil)
			return
		}
		t := h.auth(sw, r, append([]Scope{scope}, or...))
		if t == nil {
			return
		}
		select {
		case t.reqs <- struct{}{}:
			defer func() { <-t.reqs }()
		default:
			h.refuse(sw, r, t, http.StatusTooManyRequests, ReasonRequests, fmt.Sprintf("this token has %d requests being served, its cap", t.MaxRequests))
			return
		}
		fn(sw, r, t)
	}
}

// refuse answers a refusal: the problem document, a log line with the
// token's name (never its secret) and the refusals metric.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, t *tokenState, status int, reason Reason, detail string) {
	name := ""
	if t != nil {
		name = t.Name
	}
	h.m.refusals.WithLabelValues(string(reason)).Inc()
	h.log.Warn("httpapi: refused", "token", name, "method", r.Method, "path", r.URL.Path, "reason", reason,
		"detail", detail, "remote", r.RemoteAddr)
	writeProblem(w, status, reason, detail)
}

func (h *Handler) auth(w http.ResponseWriter, r *http.Request, scopes []Scope) *tokenState {
	v := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(v, "Bearer ")
	if !ok || strings.TrimSpace(secret) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dialer"`)
		h.refuse(w, r, nil, http.StatusUnauthorized, ReasonNoToken, "an Authorization: Bearer token is required")
		return nil
	}
	t := h.tokens[callcenter.HashToken(strings.TrimSpace(secret))]
	if t == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dialer", error="invalid_token"`)
		h.refuse(w, r, nil, http.StatusUnauthorized, ReasonBadToken, "the bearer token is not known")
		return nil
	}
	if !slices.ContainsFunc(scopes, t.has) {
		h.refuse(w, r, t, http.StatusForbidden, ReasonScope, fmt.Sprintf("this token lacks the scope %s", scopes[0]))
		return nil
	}
	if !t.lim.Allow() {
		w.Header().Set("Retry-After", "1")
		h.refuse(w, r, t, http.StatusTooManyRequests, ReasonRate, fmt.Sprintf("over this token's rate of %g requests/s", t.Rate))
		return nil
	}
	return t
}

// decode reads a JSON body of at most MaxBody bytes, refusing unknown
// fields.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, t *tokenState, v any) bool {
	if r.ContentLength > h.cfg.MaxBody {
		h.refuse(w, r, t, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, fmt.Sprintf("the body is over %d bytes", h.cfg.MaxBody))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, r, t, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, fmt.Sprintf("the body is over %d bytes", h.cfg.MaxBody))
			return false
		}
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		h.refuse(w, r, t, http.StatusBadRequest, ReasonBadRequest, "bad JSON body: more than one value")
		return false
	}
	return true
}
