package dialer

import (
	"errors"
	"fmt"
	"time"
)

// ErrCampaign is wrapped by every campaign configuration error.
var ErrCampaign = errors.New("dialer: invalid campaign")

// Trunk is one outgoing route and its limits.
type Trunk struct {
	Name string `yaml:"name"`
	// Channel is the dial string template; "${number}" is replaced by the
	// contact's E.164 number (e.g. "PJSIP/${number}@carrier").
	Channel string `yaml:"channel"`
	// Ports is the most calls in flight on this trunk from this process.
	Ports int `yaml:"ports"`
	// CPS is the most call starts per second (burst 1: no one-second window
	// ever holds more than CPS starts). 0 = unpaced.
	CPS float64 `yaml:"cps"`
}

// Answer is what runs when the called party answers: a dialplan location
// (Context/Exten/Priority), an application (Application/Data), or an IVR
// flow (FreeSWITCH backends).
type Answer struct {
	Context     string `yaml:"context"`
	Exten       string `yaml:"exten"`
	Priority    string `yaml:"priority"`
	Application string `yaml:"application"`
	Data        string `yaml:"data"`
	Flow        string `yaml:"flow"`
}

// Campaign is contacts (added to the store separately) + what runs on
// answer + limits.
type Campaign struct {
	ID       string  `yaml:"id"`
	Trunks   []Trunk `yaml:"trunks"`
	Answer   Answer  `yaml:"answer"`
	CallerID string  `yaml:"caller_id"`
	// Vars are set on every call (contact variables override them).
	Vars map[string]string `yaml:"vars"`
	// MaxConcurrent is the global limit of calls in flight shared by every
	// dialer process of the campaign (the store's semaphore). 0 = the sum of
	// the trunks' ports.
	MaxConcurrent int `yaml:"max_concurrent"`
	// MaxAttempts is the per-contact lifetime cap over every disposition,
	// throttled ones included. 0 = 1 + the sum of the retry maxima.
	MaxAttempts int `yaml:"max_attempts"`
	// RingTimeout bounds ringing; default 30s.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// Retries by disposition; nil = DefaultRetries. Only retryable
	// dispositions may appear.
	Retries map[Disposition]Retry `yaml:"retries"`
	// Hours are the calling hours in each contact's time zone.
	Hours Hours `yaml:"hours"`
	// DefaultRegion normalises numbers written without "+" (e.g. "US").
	DefaultRegion string `yaml:"default_region"`
}

// campaignIDMax bounds campaign ids (they are part of Redis keys).
const campaignIDMax = 64

// Check validates c and fills defaults. It returns the compiled schedule.
func (c *Campaign) Check() (*Schedule, error) {
	if c.ID == "" || len(c.ID) > campaignIDMax {
		return nil, fmt.Errorf("%w: id %q must be 1-%d characters", ErrCampaign, c.ID, campaignIDMax)
	}
	if err := checkName(c.ID); err != nil {
		return nil, fmt.Errorf("%w: id %q: letters, digits, _ and - only", ErrCampaign, c.ID)
	}
	if len(c.Trunks) == 0 {
		return nil, fmt.Errorf("%w: %s: no trunks", ErrCampaign, c.ID)
	}
	ports := 0
	names := map[string]bool{}
	for i, t := range c.Trunks {
		if t.Name == "" || names[t.Name] {
			return nil, fmt.Errorf("%w: trunk %d: empty or repeated name %q", ErrCampaign, i, t.Name)
		}
		names[t.Name] = true
		if t.Ports < 1 {
			return nil, fmt.Errorf("%w: trunk %s: ports %d < 1", ErrCampaign, t.Name, t.Ports)
		}
		if t.CPS < 0 {
			return nil, fmt.Errorf("%w: trunk %s: negative cps", ErrCampaign, t.Name)
		}
		if err := checkValue(t.Channel); err != nil {
			return nil, fmt.Errorf("%w: trunk %s channel: %w", ErrCampaign, t.Name, err)
		}
		ports += t.Ports
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = ports
	}
	if c.MaxConcurrent < 1 {
		return nil, fmt.Errorf("%w: max_concurrent %d < 1", ErrCampaign, c.MaxConcurrent)
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.RingTimeout < time.Second {
		return nil, fmt.Errorf("%w: ring_timeout %v < 1s", ErrCampaign, c.RingTimeout)
	}
	if c.Retries == nil {
		c.Retries = DefaultRetries()
	}
	sum := 0
	for d, r := range c.Retries {
		if !d.Retryable() {
			return nil, fmt.Errorf("%w: %q is never retried (only busy, no_answer, congestion, failed, throttled)", ErrCampaign, d)
		}
		if r.Max < 0 || r.Delay < 0 {
			return nil, fmt.Errorf("%w: retry %s: negative max or delay", ErrCampaign, d)
		}
		sum += r.Max
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 1 + sum
	}
	if c.MaxAttempts < 1 {
		return nil, fmt.Errorf("%w: max_attempts %d < 1", ErrCampaign, c.MaxAttempts)
	}
	for _, v := range []string{c.CallerID, c.Answer.Context, c.Answer.Exten, c.Answer.Priority,
		c.Answer.Application, c.Answer.Data, c.Answer.Flow} {
		if err := checkValue(v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCampaign, err)
		}
	}
	for k, v := range c.Vars {
		if err := checkName(k); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCampaign, err)
		}
		if err := checkValue(v); err != nil {
			return nil, fmt.Errorf("%w: var %s: %w", ErrCampaign, k, err)
		}
	}
	return c.Hours.Compile()
}

// decide is the retry policy: what happens to a contact after an attempt
// ended with d. counts are the contact's attempts per disposition and
// attempts its lifetime total, both including this attempt.
func (c *Campaign) decide(d Disposition, counts map[Disposition]int, attempts int, end time.Time) Next {
	switch {
	case d == Answered:
		return Next{Final: StatusAnswered}
	case d == NotPlaced:
		return Next{Due: end.Add(notPlacedDelay)}
	case d == Unknown:
		return Next{Final: StatusUnknown}
	case d == Cancelled:
		return Next{Final: StatusCancelled}
	case !d.Retryable():
		return Next{Final: StatusFailed}
	}
	r, ok := c.Retries[d]
	if !ok || counts[d] > r.Max || attempts >= c.MaxAttempts {
		return Next{Final: StatusExhausted}
	}
	return Next{Due: end.Add(r.Delay)}
}

// Next is what happens to a contact after an attempt or a release: due
// again at Due, or a final status.
type Next struct {
	Due   time.Time
	Final ContactStatus
}
