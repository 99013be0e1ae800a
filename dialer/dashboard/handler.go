package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/flows"
)

//go:embed assets
var assets embed.FS

// Token is a dashboard login: the call-centre token's fields (the same
// secret opens /v1/events) plus the campaigns it sees and whether it may
// pause, resume and cancel them.
type Token struct {
	callcenter.Token `yaml:",inline"`
	Campaigns        []string `yaml:"campaigns" json:"campaigns"` // callcenter.Any for all
	Control          bool     `yaml:"control" json:"control"`
}

// Threshold turns a queue tile red: more than Waiting callers waiting, or
// the longest wait over LongestWait (0: no limit).
type Threshold struct {
	Waiting     int           `yaml:"waiting" json:"waiting"`
	LongestWait time.Duration `yaml:"longest_wait" json:"-"`
}

// Config configures the dashboard.
type Config struct {
	Tokens []Token
	// Store and Campaigns: the campaigns shown (more with AddCampaign).
	Store     dialer.Store
	Campaigns []string
	// Poll is how often campaign progress is read (default 500ms).
	Poll time.Duration
	// Redis and Stream: the call-log stream the IVR view follows (nil
	// Redis: no IVR view). Group is the dashboard's consumer group
	// (default "dashboard"), Consumer its name in it (default "dashboard").
	Redis    redis.UniversalClient
	Stream   string
	Group    string
	Consumer string
	// Flows are drawn with live counts.
	Flows []*flows.Flow
	// Thresholds by queue name (callcenter.Any: every other queue).
	Thresholds map[string]Threshold
	Logger     *slog.Logger
}

// Handler serves the dashboard. Run feeds it; Close ends its streams.
type Handler struct {
	cfg    Config
	log    *slog.Logger
	tokens map[string]*Token
	mux    *http.ServeMux
	camps  *campaigns
	ivr    *ivr
	graphs []Graph

	mu      sync.Mutex
	seq     uint64
	changed chan struct{} // closed and replaced at every change
	closed  chan struct{}
	once    sync.Once
}

// ErrConfig reports a configuration the dashboard cannot use.
var ErrConfig = errors.New("dashboard: bad config")

// New returns the dashboard; mount it at "/" (it serves "/" and /dash/).
func New(cfg Config) (*Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Group == "" {
		cfg.Group = "dashboard"
	}
	if cfg.Consumer == "" {
		cfg.Consumer = "dashboard"
	}
	if cfg.Stream == "" {
		cfg.Stream = "{fsivr}:calls"
	}
	h := &Handler{cfg: cfg, log: cfg.Logger.With("component", "dashboard"), tokens: map[string]*Token{},
		mux: http.NewServeMux(), changed: make(chan struct{}), closed: make(chan struct{})}
	for i := range cfg.Tokens {
		t := &cfg.Tokens[i]
		sum := strings.ToLower(t.SHA256)
		if t.Name == "" || len(sum) != 64 {
			return nil, fmt.Errorf("%w: token %d needs a name and a 64-hex-digit sha256", ErrConfig, i+1)
		}
		if _, dup := h.tokens[sum]; dup {
			return nil, fmt.Errorf("%w: token %q has the same secret as another", ErrConfig, t.Name)
		}
		h.tokens[sum] = t
	}
	if cfg.Store != nil {
		h.camps = &campaigns{store: cfg.Store, every: cfg.Poll, log: h.log, onChg: h.notify, views: map[string]*CampaignView{}}
		for _, id := range cfg.Campaigns {
			h.camps.add(id)
		}
	}
	if cfg.Redis != nil {
		h.ivr = newIVR(cfg.Redis, cfg.Stream, cfg.Group, cfg.Consumer, h.log, h.notify)
	}
	for _, f := range cfg.Flows {
		h.graphs = append(h.graphs, layout(f))
	}
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	h.mux.Handle("GET /{$}", files)
	h.mux.Handle("GET /dash/static/", http.StripPrefix("/dash/static/", files))
	h.mux.HandleFunc("GET /dash/api/me", h.me)
	h.mux.HandleFunc("GET /dash/api/flows", h.flows)
	h.mux.HandleFunc("GET /dash/events", h.events)
	h.mux.HandleFunc("POST /dash/api/campaigns/{id}/{action}", h.control)
	return h, nil
}

// AddCampaign shows one more campaign.
func (h *Handler) AddCampaign(id string) {
	if h.camps != nil {
		h.camps.add(id)
		h.notify()
	}
}

// Run polls the campaigns and follows the call-log stream until ctx ends.
func (h *Handler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if h.camps != nil {
		wg.Go(func() { h.camps.run(ctx) })
	}
	if h.ivr != nil {
		wg.Go(func() { h.ivr.run(ctx) })
	}
	// The IVR's windows (calls per minute, the last hour) move with time
	// alone: a tick lets the streams send what aged out.
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				h.notify()
			}
		}
	})
	wg.Wait()
}

// Close ends the event streams.
func (h *Handler) Close() { h.once.Do(func() { close(h.closed) }) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) notify() {
	h.mu.Lock()
	h.seq++
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

func (h *Handler) state() (uint64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq, h.changed
}

func (h *Handler) auth(w http.ResponseWriter, r *http.Request) *Token {
	if secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if t := h.tokens[callcenter.HashToken(strings.TrimSpace(secret))]; t != nil {
			return t
		}
	}
	h.log.Warn("dashboard: refused: missing or unknown bearer token", "path", r.URL.Path, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or unknown bearer token"})
	return nil
}

func (t *Token) sees(campaign string) bool {
	return slices.Contains(t.Campaigns, callcenter.Any) || slices.Contains(t.Campaigns, campaign)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// me is what the page needs to know about its token.
type me struct {
	Name       string               `json:"name"`
	Agents     []string             `json:"agents"`
	Queues     []string             `json:"queues"`
	Campaigns  []string             `json:"campaigns"`
	Control    bool                 `json:"control"`
	Thresholds map[string]threshold `json:"thresholds"`
}

type threshold struct {
	Waiting         int   `json:"waiting"`
	LongestWaitSecs int64 `json:"longestWaitSecs"`
}

func (h *Handler) me(w http.ResponseWriter, r *http.Request) {
	t := h.auth(w, r)
	if t == nil {
		return
	}
	m := me{Name: t.Name, Agents: t.Agents, Queues: t.Queues, Campaigns: []string{}, Control: t.Control, Thresholds: map[string]threshold{}}
	if h.camps != nil {
		for _, id := range h.camps.list() {
			if t.sees(id) {
				m.Campaigns = append(m.Campaigns, id)
			}
		}
	}
	for q, th := range h.cfg.Thresholds {
		if q == callcenter.Any || slices.Contains(t.Queues, callcenter.Any) || slices.Contains(t.Queues, q) {
			m.Thresholds[q] = threshold{Waiting: th.Waiting, LongestWaitSecs: int64(th.LongestWait / time.Second)}
		}
	}
	writeJSON(w, http.StatusOK, m)
}

func (h *Handler) flows(w http.ResponseWriter, r *http.Request) {
	if h.auth(w, r) == nil {
		return
	}
	out := h.graphs
	if out == nil {
		out = []Graph{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) control(w http.ResponseWriter, r *http.Request) {
	t := h.auth(w, r)
	if t == nil {
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	var st dialer.RunState
	switch action {
	case "pause":
		st = dialer.CampaignPaused
	case "resume":
		st = dialer.CampaignRunning
	case "cancel":
		st = dialer.CampaignCancelled
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "action must be pause, resume or cancel"})
		return
	}
	known := h.camps != nil && slices.Contains(h.camps.list(), id)
	if !known || !t.sees(id) || !t.Control {
		h.log.Warn("dashboard: refused: campaign outside the token's scope", "token", t.Name, "campaign", id, "action", action)
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "campaign outside this token's scope"})
		return
	}
	if err := h.cfg.Store.SetState(r.Context(), id, st); err != nil {
		h.log.Error("dashboard: campaign state", "token", t.Name, "campaign", id, "action", action, "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "the store did not take the change"})
		return
	}
	h.log.Info("dashboard: campaign state set", "token", t.Name, "campaign", id, "state", st)
	h.camps.poll(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"state": string(st)})
}

// snapshot is one SSE event's data: all the token may see.
type snapshot struct {
	Campaigns []CampaignView `json:"campaigns"`
	IVR       *IVRView       `json:"ivr,omitempty"`
}

func (h *Handler) snapshotFor(t *Token) snapshot {
	var s snapshot
	if h.camps != nil {
		s.Campaigns = h.camps.snapshot(t.sees)
	} else {
		s.Campaigns = []CampaignView{}
	}
	if h.ivr != nil {
		v := h.ivr.snapshot()
		s.IVR = &v
	}
	return s
}

// events streams snapshots: one at once (unless Last-Event-ID names the
// current one), then one per change, at most every 200ms, and a
// heartbeat comment every 15s.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	t := h.auth(w, r)
	if t == nil {
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	last := r.Header.Get("Last-Event-ID")
	log := h.log.With("token", t.Name, "remote", r.RemoteAddr)
	log.Info("dashboard: subscribed", "last_event_id", last)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(b); err != nil {
			log.Info("dashboard: subscriber gone", "err", err)
			return false
		}
		if err := rc.Flush(); err != nil {
			log.Info("dashboard: subscriber gone", "err", err)
			return false
		}
		return true
	}
	if !write([]byte("retry: 1000\n\n")) {
		return
	}
	beat := time.NewTicker(15 * time.Second)
	defer beat.Stop()
	var sent []byte
	for {
		seq, changed := h.state()
		id := strconv.FormatUint(seq, 10)
		if id != last {
			b, _ := json.Marshal(h.snapshotFor(t))
			if string(b) != string(sent) {
				if !write([]byte("id: " + id + "\nevent: snapshot\ndata: " + string(b) + "\n\n")) {
					return
				}
				sent = b
			}
			last = id
		}
		select {
		case <-r.Context().Done():
			return
		case <-h.closed:
			return
		case <-beat.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		case <-changed:
			select { // coalesce bursts
			case <-time.After(200 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	}
}
