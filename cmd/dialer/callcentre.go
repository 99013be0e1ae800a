package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer/httpapi"
)

// callCentre is the call-centre stream of `dialer serve` (package
// callcenter): one Hub fed by one Service on the config's ami: section.
// /v1/events is opened by the API tokens with events:read and by the
// dashboard's tokens; the commands (originate-call, queue-action, ...)
// only by the dashboard's with control: true, since no API scope grants
// them.
type callCentre struct {
	events   *callcenter.Handler
	commands *callcenter.Handler // nil without dashboard tokens
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// startCallCentre runs the service and mounts the handlers on mux; nil
// when no token may read events.
func startCallCentre(ctx context.Context, mux *http.ServeMux, cfg Config, apiTokens, dashTokens []callcenter.Token, log *slog.Logger) (*callCentre, error) {
	readers := slices.Clone(dashTokens)
	for _, t := range apiTokens {
		if !slices.ContainsFunc(readers, func(r callcenter.Token) bool { return strings.EqualFold(r.SHA256, t.SHA256) }) {
			readers = append(readers, t)
		}
	}
	if len(readers) == 0 {
		return nil, nil
	}
	if cfg.AMI.Addr == "" {
		return nil, fmt.Errorf("call centre: tokens may read /v1/events but ami.addr is empty")
	}
	hub := callcenter.NewHub(callcenter.HubConfig{Retention: 10 * time.Minute})
	svc, err := callcenter.NewService(cfg.CallCentre.service(callcenter.ServiceConfig{Addr: cfg.AMI.Addr, Username: cfg.AMI.Username,
		Secret: cfg.AMI.Secret, Hub: hub, Logger: log}))
	if err != nil {
		return nil, fmt.Errorf("call centre: %w", err)
	}
	c := &callCentre{}
	if c.events, err = callcenter.NewHandler(callcenter.HandlerConfig{Hub: hub, Commands: svc, Tokens: readers, Logger: log}); err != nil {
		return nil, fmt.Errorf("call centre: %w", err)
	}
	if len(dashTokens) > 0 {
		// Only control: true tokens command: a wallboard's token (on a
		// screen anyone in the room sees) would otherwise place calls.
		commanders := slices.DeleteFunc(slices.Clone(dashTokens), func(t callcenter.Token) bool {
			return !cfg.Dashboard.controls(t.SHA256)
		})
		if c.commands, err = callcenter.NewHandler(callcenter.HandlerConfig{Hub: hub, Commands: svc, Tokens: commanders, Logger: log}); err != nil {
			c.events.Close()
			return nil, fmt.Errorf("call centre: %w", err)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.wg.Go(func() { _ = svc.Run(runCtx) }) // reconnects until runCtx ends
	mux.Handle(callcenter.Paths[0], scopeGate(cfg.API.Tokens, readers, c.events))
	if c.commands != nil {
		for _, p := range callcenter.Paths[1:] {
			mux.Handle(p, c.commands)
		}
	}
	return c, nil
}

// scopeGate answers 403 to an API token without events:read that is not
// a reader otherwise (a dashboard token): the call centre itself only
// knows the readers, and would say 401.
func scopeGate(tokens []httpapi.Token, readers []callcenter.Token, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			sum := callcenter.HashToken(strings.TrimSpace(secret))
			reader := slices.ContainsFunc(readers, func(t callcenter.Token) bool { return strings.EqualFold(t.SHA256, sum) })
			for _, t := range tokens {
				if !reader && strings.EqualFold(t.SHA256, sum) && !slices.Contains(t.Scopes, httpapi.ScopeEventsRead) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusForbidden)
					fmt.Fprintf(w, "{\"error\":%q}\n", "token "+t.Name+" lacks scope events:read")
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// close ends the streams and the AMI connection.
func (c *callCentre) close() {
	if c == nil {
		return
	}
	c.events.Close()
	if c.commands != nil {
		c.commands.Close()
	}
	c.cancel()
	c.wg.Wait()
}
