package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer/dashboard"
	"github.com/fsivr/fsivr/flows"
)

// DashboardConfig is the `dashboard:` section of the config: the live
// page at / and the call-centre stream it reads (/v1/events and the
// call-centre commands, package callcenter, on its own AMI connection),
// both on `http`. Without tokens neither is served.
type DashboardConfig struct {
	// Tokens log in to the page; the same secret opens /v1/events within
	// the token's agents and queues, and, with control: true, sends the
	// call-centre commands there.
	Tokens []dashboard.Token `yaml:"tokens"`
	// Flows are flow files drawn with their live counts.
	Flows []string `yaml:"flows"`
	// CallLogStream is the call-log stream ivrd writes (default
	// "{fsivr}:calls"); the page follows it with the consumer group
	// CallLogGroup (default "dashboard"). It needs redis.addrs.
	CallLogStream string `yaml:"calllog_stream"`
	CallLogGroup  string `yaml:"calllog_group"`
	// Thresholds turn queue tiles red, by queue ("*": every other queue).
	Thresholds map[string]dashboard.Threshold `yaml:"thresholds"`
}

// servedDashboard is the page and the call-centre stream of `dialer serve`.
type servedDashboard struct {
	page   *dashboard.Handler
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// mountDashboard mounts the page at / when the config has dashboard
// tokens (nil otherwise); the call-centre stream it reads is mounted by
// startCallCentre with the tokens of callcenterTokens.
func mountDashboard(ctx context.Context, mux *http.ServeMux, cfg Config, d *deps) (*servedDashboard, error) {
	dc := cfg.Dashboard
	if len(dc.Tokens) == 0 {
		return nil, nil
	}
	var fl []*flows.Flow
	for _, path := range dc.Flows {
		f, err := flows.Load(path, flows.Options{SkipPromptCheck: true})
		if err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		fl = append(fl, f)
	}
	page, err := dashboard.New(dashboard.Config{Tokens: dc.Tokens, Store: d.store, Redis: d.redis,
		Stream: dc.CallLogStream, Group: dc.CallLogGroup, Flows: fl, Thresholds: dc.Thresholds, Logger: d.log})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &servedDashboard{page: page, cancel: cancel}
	s.wg.Go(func() { page.Run(runCtx) })
	mux.Handle("/", page)
	return s, nil
}

// callcenterTokens are the dashboard tokens in the call-centre API's form.
func (dc DashboardConfig) callcenterTokens() []callcenter.Token {
	tokens := make([]callcenter.Token, len(dc.Tokens))
	for i, t := range dc.Tokens {
		tokens[i] = t.Token
	}
	return tokens
}

// controls reports whether the dashboard token with this SHA-256 has
// control: true.
func (dc DashboardConfig) controls(sha256 string) bool {
	return slices.ContainsFunc(dc.Tokens, func(t dashboard.Token) bool {
		return t.Control && strings.EqualFold(t.SHA256, sha256)
	})
}

// addCampaign shows a campaign on the page.
func (s *servedDashboard) addCampaign(id string) {
	if s != nil {
		s.page.AddCampaign(id)
	}
}

// close ends the page's streams.
func (s *servedDashboard) close() {
	if s == nil {
		return
	}
	s.page.Close()
	s.cancel()
	s.wg.Wait()
}
