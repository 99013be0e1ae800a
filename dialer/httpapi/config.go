package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
)

// Scope is one permission of a token.
type Scope string

// The scopes.
const (
	ScopeCallsCreate    Scope = "calls:create"
	ScopeCampaignsRead  Scope = "campaigns:read"
	ScopeCampaignsWrite Scope = "campaigns:write"
	ScopeEventsRead     Scope = "events:read"
	// ScopeMetricsRead opens the Prometheus /metrics that `dialer serve`
	// puts on the API's listener (campaign ids are labels there): Guard.
	ScopeMetricsRead Scope = "metrics:read"
)

// Token is a bearer token: the call-centre API's stored form (name, hex
// SHA-256 of the secret, the agents and queues its events:read covers) and
// what it may do here.
type Token struct {
	callcenter.Token `yaml:",inline"`
	Scopes           []Scope `yaml:"scopes"`
	// Rate is the requests per second it may make (burst Burst); 0 = 5/s,
	// burst 10.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// MaxCalls is the most of its click-to-call calls not ended; 0 = 5.
	MaxCalls int `yaml:"max_calls"`
	// MaxRequests is the most of its requests served at once (a slow
	// upload holds one); 0 = 4.
	MaxRequests int `yaml:"max_requests"`
}

func (t *Token) has(s Scope) bool {
	for _, x := range t.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

// Trunk is a route the API may place calls on; requests name it.
type Trunk struct {
	Name string `yaml:"name"`
	// Backend names one of Options.Backends ("asterisk", "freeswitch").
	Backend string `yaml:"backend"`
	// Kind is "asterisk" (messages play with Playback) or "freeswitch"
	// (messages and flows run in ivrd); default asterisk.
	Kind string `yaml:"kind"`
	// Channel is the dial string, "${number}" replaced by the E.164 number.
	Channel string  `yaml:"channel"`
	Ports   int     `yaml:"ports"`
	CPS     float64 `yaml:"cps"`
	// CallerIDs are the caller ids a request may choose; the first is the
	// default. A request's caller id outside them is refused.
	CallerIDs []string `yaml:"caller_ids"`
}

// WebhookConfig says where call results may be posted.
type WebhookConfig struct {
	// AllowedHosts are the host names a webhook URL may name (exact).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Secret keys the HMAC-SHA256 signature (header X-Fsivr-Signature).
	Secret string `yaml:"secret"`
	// AllowHTTP permits http:// URLs (tests, a loopback receiver).
	AllowHTTP bool `yaml:"allow_http"`
	// Attempts bounds deliveries (default 6), spaced by backoff from
	// RetryMin (default 1s) to 1 min.
	Attempts int           `yaml:"attempts"`
	RetryMin time.Duration `yaml:"retry_min"`
}

// TLSConfig enables HTTPS for the API's listener (used by `dialer serve`).
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Config is the API's part of the dialer's configuration.
type Config struct {
	Tokens []Token `yaml:"tokens"`
	Trunks []Trunk `yaml:"trunks"`
	// Messages map a message name a request may give to the prompt played
	// on answer (Asterisk Playback data, or the FreeSWITCH notify flow's
	// "message" variable).
	Messages map[string]string `yaml:"messages"`
	// Flows are the ivr flows a request may run on a FreeSWITCH trunk.
	Flows []string `yaml:"flows"`
	// Agents map an agent name to its dial string, for the agent-first
	// shape: the agent is originated and, once answered, the PBX runs
	// AgentContext with the customer's number as the extension.
	Agents       map[string]string `yaml:"agents"`
	AgentContext string            `yaml:"agent_context"`
	Numbers      NumberPolicy      `yaml:"numbers"`
	Webhooks     WebhookConfig     `yaml:"webhooks"`
	// MaxBody bounds JSON request bodies (default 64 KiB); MaxUpload the
	// campaign upload (default 8 MiB).
	MaxBody   int64 `yaml:"max_body"`
	MaxUpload int64 `yaml:"max_upload"`
	// RingTimeout of click-to-call calls (default 30s).
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// QueueTimeout is how long a call may wait to be placed (the trunk
	// unreachable, not placed): then it is given up, never dialed late.
	// Default 60s.
	QueueTimeout time.Duration `yaml:"queue_timeout"`
	// IdempotencyTTL is how long an Idempotency-Key is remembered
	// (default 24h).
	IdempotencyTTL time.Duration `yaml:"idempotency_ttl"`
	TLS            TLSConfig     `yaml:"tls"`
}

// Options are the API's collaborators.
type Options struct {
	Store    dialer.Store
	Backends map[string]dialer.Backend
	DNC      dialer.DNC
	Recorder dialer.Recorder
	Logger   *slog.Logger
	// Registerer gets the API's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// HTTPClient posts webhooks (default a client with a 10 s timeout).
	HTTPClient *http.Client
	// EnginePoll is the engines' Poll (default the engine's).
	EnginePoll time.Duration
}

// ErrConfig is wrapped by every configuration error of New.
var ErrConfig = errors.New("httpapi: invalid config")

func (c *Config) check(o Options) error {
	if c.MaxBody <= 0 {
		c.MaxBody = 64 << 10
	}
	if c.MaxUpload <= 0 {
		c.MaxUpload = 8 << 20
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = time.Minute
	}
	if c.IdempotencyTTL <= 0 {
		c.IdempotencyTTL = 24 * time.Hour
	}
	if c.Numbers.DailyCap <= 0 {
		c.Numbers.DailyCap = 3
	}
	if c.AgentContext == "" {
		c.AgentContext = "fsivr-agent-first"
	}
	if c.Webhooks.Attempts <= 0 {
		c.Webhooks.Attempts = 6
	}
	if c.Webhooks.RetryMin <= 0 {
		c.Webhooks.RetryMin = time.Second
	}
	seen := map[string]bool{}
	for i := range c.Tokens {
		t := &c.Tokens[i]
		if t.Name == "" || seen[t.Name] {
			return fmt.Errorf("%w: token %d: empty or repeated name", ErrConfig, i+1)
		}
		seen[t.Name] = true
		t.SHA256 = strings.ToLower(t.SHA256)
		if len(t.SHA256) != 64 || strings.Trim(t.SHA256, "0123456789abcdef") != "" {
			return fmt.Errorf("%w: token %q: sha256 is not 64 hex digits", ErrConfig, t.Name)
		}
		for _, s := range t.Scopes {
			switch s {
			case ScopeCallsCreate, ScopeCampaignsRead, ScopeCampaignsWrite, ScopeEventsRead, ScopeMetricsRead:
			default:
				return fmt.Errorf("%w: token %q: unknown scope %q", ErrConfig, t.Name, s)
			}
		}
		if t.Rate <= 0 {
			t.Rate, t.Burst = 5, max(t.Burst, 10)
		}
		if t.Burst <= 0 {
			t.Burst = 1
		}
		if t.MaxCalls <= 0 {
			t.MaxCalls = 5
		}
		if t.MaxRequests <= 0 {
			t.MaxRequests = 4
		}
	}
	trunks := map[string]bool{}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		if t.Name == "" || trunks[t.Name] || dialer.CheckName(t.Name) != nil {
			return fmt.Errorf("%w: trunk %d: empty, repeated or unsafe name %q", ErrConfig, i+1, t.Name)
		}
		trunks[t.Name] = true
		if o.Backends[t.Backend] == nil {
			return fmt.Errorf("%w: trunk %q: backend %q is not configured", ErrConfig, t.Name, t.Backend)
		}
		if t.Kind == "" {
			t.Kind = "asterisk"
		}
		if t.Kind != "asterisk" && t.Kind != "freeswitch" {
			return fmt.Errorf("%w: trunk %q: kind %q (asterisk or freeswitch)", ErrConfig, t.Name, t.Kind)
		}
		if t.Ports <= 0 {
			t.Ports = 1
		}
		for _, v := range append([]string{t.Channel}, t.CallerIDs...) {
			if err := dialer.CheckValue(v); err != nil {
				return fmt.Errorf("%w: trunk %q: %w", ErrConfig, t.Name, err)
			}
		}
	}
	for name, v := range c.Messages {
		if dialer.CheckName(name) != nil || v == "" || dialer.CheckValue(v) != nil {
			return fmt.Errorf("%w: message %q: unsafe name or prompt", ErrConfig, name)
		}
	}
	for name, v := range c.Agents {
		if dialer.CheckName(name) != nil || v == "" || dialer.CheckValue(v) != nil {
			return fmt.Errorf("%w: agent %q: unsafe name or dial string", ErrConfig, name)
		}
	}
	if o.Store == nil {
		return fmt.Errorf("%w: a store is required", ErrConfig)
	}
	return nil
}

func (c *Config) trunk(name string) *Trunk {
	for i := range c.Trunks {
		if c.Trunks[i].Name == name || name == "" && i == 0 {
			return &c.Trunks[i]
		}
	}
	return nil
}
