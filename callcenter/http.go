package callcenter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Token is a bearer token's stored form: its SHA-256 (hex), never the
// token itself, and what it may see and command.
type Token struct {
	Name   string   `yaml:"name" json:"name"`     // for logs and metrics; never the secret
	SHA256 string   `yaml:"sha256" json:"sha256"` // hex SHA-256 of the bearer token (HashToken)
	Agents []string `yaml:"agents" json:"agents"` // the agents it may see and command (Any for all)
	Queues []string `yaml:"queues" json:"queues"` // the queues likewise
}

// Scope is what the token may see and command.
func (t *Token) Scope() Scope { return Scope{Agents: t.Agents, Queues: t.Queues} }

// HashToken returns the stored form of a bearer token.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Paths are the URL paths the Handler serves, for a server that mounts it
// beside its own routes: for _, p := range callcenter.Paths { mux.Handle(p, h) }.
var Paths = []string{"/v1/events", "/v1/originate-call", "/v1/redirect-call", "/v1/park-and-announce", "/v1/queue-action"}

// HandlerConfig configures the HTTP API.
type HandlerConfig struct {
	Hub      *Hub
	Commands Commander // nil: the command endpoints answer 503
	Tokens   []Token
	// Heartbeat is the period of the comment line sent on an idle stream
	// so proxies keep it open (default 15 s): a stream is never silent for
	// more than two periods.
	Heartbeat time.Duration
	// WriteTimeout bounds a write to a client (default 10 s; each write
	// gets at least half of it); a client that does not take its bytes in
	// that time is dropped.
	WriteTimeout time.Duration
	Logger       *slog.Logger
	Metrics      *Metrics
}

// Handler is the call-centre HTTP API (see NewHandler). Close ends the
// event streams it serves.
type Handler struct {
	cfg    HandlerConfig
	tokens map[string]*Token // by hash
	mux    *http.ServeMux
	log    *slog.Logger

	streams streamSet
}

// NewHandler returns the call-centre HTTP API, to mount at the server's
// root (its paths start with /v1/):
//
//	GET  /v1/events?agents=500,510&queues=support   Server-Sent Events
//	POST /v1/originate-call    {"agent","number","callerId"} → 202 {"actionId"}
//	POST /v1/redirect-call     {"agent","exten","context"}
//	POST /v1/park-and-announce {"agent"}
//	POST /v1/queue-action      {"action":"add|remove|pause|unpause","agent","queue","name","reason"}
//
// (the command names are pbxis's). Mount it on each of Paths.
//
// Every request needs `Authorization: Bearer <token>`; a subscription or
// command outside the token's agents and queues is refused with 403 and a
// log line.
//
// An HTTP/1.1 event stream is hijacked from net/http once its headers are
// known good, so an idle subscriber costs one small goroutine and its
// socket, not net/http's per-connection buffers and reader.
func NewHandler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Hub == nil {
		return nil, errors.New("callcenter: NewHandler needs a Hub")
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, tokens: map[string]*Token{}, mux: http.NewServeMux(), log: cfg.Logger.With("component", "callcenter")}
	for i := range cfg.Tokens {
		t := &cfg.Tokens[i]
		if t.Name == "" {
			return nil, fmt.Errorf("callcenter: token %d has no name", i+1)
		}
		sum := strings.ToLower(t.SHA256)
		if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 {
			return nil, fmt.Errorf("callcenter: token %q: SHA256 is not 64 hex digits", t.Name)
		}
		if _, dup := h.tokens[sum]; dup {
			return nil, fmt.Errorf("callcenter: token %q: the same secret as another token", t.Name)
		}
		for _, n := range append(append([]string(nil), t.Agents...), t.Queues...) {
			if err := CheckName(n); err != nil {
				return nil, fmt.Errorf("callcenter: token %q: %w", t.Name, err)
			}
		}
		h.tokens[sum] = t
	}
	h.mux.HandleFunc("GET "+Paths[0], h.events)
	h.mux.HandleFunc("POST "+Paths[1], h.originate)
	h.mux.HandleFunc("POST "+Paths[2], h.redirect)
	h.mux.HandleFunc("POST "+Paths[3], h.park)
	h.mux.HandleFunc("POST "+Paths[4], h.queue)
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) auth(w http.ResponseWriter, r *http.Request) *Token {
	v := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(v, "Bearer ")
	if ok {
		if t := h.tokens[HashToken(strings.TrimSpace(secret))]; t != nil {
			return t
		}
	}
	h.cfg.Metrics.refusal()
	h.log.Warn("refused: missing or unknown bearer token", "path", r.URL.Path, "remote", r.RemoteAddr)
	w.Header().Set("WWW-Authenticate", `Bearer realm="callcenter"`)
	httpError(w, http.StatusUnauthorized, "missing or unknown bearer token")
	return nil
}

func (h *Handler) allowed(w http.ResponseWriter, r *http.Request, t *Token, want Scope) bool {
	if ok, what := want.Within(t.Scope()); !ok {
		h.cfg.Metrics.refusal()
		h.log.Warn("refused: outside the token's scope", "token", t.Name, "path", r.URL.Path, "outside", what, "asked", want.String())
		httpError(w, http.StatusForbidden, what+" is outside this token's scope")
		return false
	}
	return true
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": msg})
	_, _ = w.Write(append(b, '\n'))
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

func (h *Handler) commandError(w http.ResponseWriter, log *slog.Logger, err error) {
	var refused *RefusedError
	switch {
	case errors.As(err, &refused):
		httpError(w, http.StatusConflict, refused.Message)
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrBadScope):
		httpError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNoCall):
		httpError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrNotConnected):
		httpError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		httpError(w, http.StatusGatewayTimeout, "Asterisk did not answer in time")
	default:
		// The detail (a connection's addresses) is for the log only.
		log.Error("command failed", "err", err)
		httpError(w, http.StatusBadGateway, "the command failed on the way to Asterisk")
	}
	log.Info("command refused", "err", err)
}

type request interface {
	check() error
	scope() Scope
}

func (h *Handler) command(w http.ResponseWriter, r *http.Request, req request, run func(ctx context.Context, t *Token) (any, error)) {
	t := h.auth(w, r)
	if t == nil || !decode(w, r, req) {
		return
	}
	if err := req.check(); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !h.allowed(w, r, t, req.scope()) {
		return
	}
	if h.cfg.Commands == nil {
		httpError(w, http.StatusServiceUnavailable, "commands are not configured")
		return
	}
	log := h.log.With("token", t.Name, "path", r.URL.Path)
	res, err := run(r.Context(), t)
	if err != nil {
		h.commandError(w, log, err)
		return
	}
	log.Info("command done", "scope", req.scope().String())
	w.Header().Set("Content-Type", "application/json")
	code := http.StatusOK
	if _, ok := res.(originateAccepted); ok {
		code = http.StatusAccepted
	}
	w.WriteHeader(code)
	b, _ := json.Marshal(res)
	_, _ = w.Write(append(b, '\n'))
}

type originateAccepted struct {
	ActionID string `json:"actionId"`
}

type okResult struct {
	OK bool `json:"ok"`
}

func (r *OriginateRequest) scope() Scope { return Scope{Agents: []string{r.Agent}} }
func (r *RedirectRequest) scope() Scope  { return Scope{Agents: []string{r.Agent}} }
func (r *ParkRequest) scope() Scope      { return Scope{Agents: []string{r.Agent}} }
func (r *QueueActionRequest) scope() Scope {
	return Scope{Agents: []string{r.Agent}, Queues: []string{r.Queue}}
}

func (h *Handler) originate(w http.ResponseWriter, r *http.Request) {
	var req OriginateRequest
	h.command(w, r, &req, func(ctx context.Context, t *Token) (any, error) {
		id, err := h.cfg.Commands.OriginateCall(ctx, t.Name, req)
		return originateAccepted{ActionID: id}, err
	})
}

func (h *Handler) redirect(w http.ResponseWriter, r *http.Request) {
	var req RedirectRequest
	h.command(w, r, &req, func(ctx context.Context, _ *Token) (any, error) {
		return okResult{true}, h.cfg.Commands.RedirectCall(ctx, req)
	})
}

func (h *Handler) park(w http.ResponseWriter, r *http.Request) {
	var req ParkRequest
	h.command(w, r, &req, func(ctx context.Context, _ *Token) (any, error) {
		return okResult{true}, h.cfg.Commands.ParkAndAnnounce(ctx, req)
	})
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request) {
	var req QueueActionRequest
	h.command(w, r, &req, func(ctx context.Context, _ *Token) (any, error) {
		return okResult{true}, h.cfg.Commands.QueueAction(ctx, req)
	})
}
