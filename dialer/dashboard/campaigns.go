package dashboard

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fsivr/fsivr/dialer"
)

// historyLen bounds the points kept per campaign for the chart.
const historyLen = 120

// CampaignView is one campaign as the page shows it.
type CampaignView struct {
	ID        string  `json:"id"`
	State     string  `json:"state"`
	Contacts  int     `json:"contacts"`
	Dialed    int     `json:"dialed"`
	Answered  int     `json:"answered"`
	Failed    int     `json:"failed"`
	Retrying  int     `json:"retrying"`
	InFlight  int     `json:"inFlight"`
	Remaining int     `json:"remaining"`
	Done      bool    `json:"done"` // nothing due or in flight (dialer.Progress.Done)
	History   []Point `json:"history"`
	Error     string  `json:"error,omitempty"`
}

// Point is one sample of the chart: attempts and answers at T (Unix ms).
type Point struct {
	T        int64 `json:"t"`
	Dialed   int   `json:"d"`
	Answered int   `json:"a"`
}

// viewOf turns the store's counters into the page's figures (the same
// arithmetic as `dialer run`'s progress line).
func viewOf(id string, p dialer.Progress) CampaignView {
	final := 0
	for _, n := range p.Final {
		final += n
	}
	answered := p.Final[dialer.StatusAnswered]
	return CampaignView{
		ID: id, State: string(p.State), Contacts: p.Contacts, Dialed: p.Attempts,
		Answered: answered, Failed: final - answered, Retrying: p.Retrying,
		InFlight: p.InFlight, Remaining: p.Due + p.InFlight, Done: p.Contacts > 0 && p.Done(),
	}
}

// campaigns polls the store for the configured campaigns.
type campaigns struct {
	store dialer.Store
	every time.Duration
	log   *slog.Logger
	onChg func()

	mu    sync.Mutex
	ids   []string
	views map[string]*CampaignView
}

func (c *campaigns) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.views[id]; ok {
		return
	}
	c.ids = append(c.ids, id)
	c.views[id] = &CampaignView{ID: id, State: "unknown"}
}

func (c *campaigns) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

// run polls until ctx ends.
func (c *campaigns) run(ctx context.Context) {
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		c.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *campaigns) poll(ctx context.Context) {
	changed := false
	for _, id := range c.list() {
		p, err := c.store.Progress(ctx, id)
		c.mu.Lock()
		old := c.views[id]
		var v CampaignView
		if err != nil {
			v = *old
			v.Error = "progress unavailable"
			if old.Error == "" {
				c.log.Warn("dashboard: campaign progress", "campaign", id, "err", err)
			}
		} else {
			v = viewOf(id, p)
			v.History = old.History
			last := len(v.History) - 1
			if last < 0 || v.History[last].Dialed != v.Dialed || v.History[last].Answered != v.Answered {
				v.History = append(v.History, Point{T: time.Now().UnixMilli(), Dialed: v.Dialed, Answered: v.Answered})
				if len(v.History) > historyLen {
					v.History = append([]Point(nil), v.History[len(v.History)-historyLen:]...)
				}
			}
		}
		if !sameView(old, &v) {
			c.views[id] = &v
			changed = true
		}
		c.mu.Unlock()
	}
	if changed && c.onChg != nil {
		c.onChg()
	}
}

func sameView(a, b *CampaignView) bool {
	return a.State == b.State && a.Contacts == b.Contacts && a.Dialed == b.Dialed && a.Answered == b.Answered &&
		a.Failed == b.Failed && a.Retrying == b.Retrying && a.InFlight == b.InFlight && a.Remaining == b.Remaining &&
		a.Done == b.Done && a.Error == b.Error && len(a.History) == len(b.History)
}

// snapshot returns the views of the campaigns allowed.
func (c *campaigns) snapshot(allowed func(string) bool) []CampaignView {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []CampaignView{}
	for _, id := range c.ids {
		if allowed(id) {
			v := *c.views[id]
			v.History = append([]Point(nil), v.History...)
			out = append(out, v)
		}
	}
	return out
}
