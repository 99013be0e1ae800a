package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fsivr/fsivr/callcenter"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/httpapi"
)

// cmdServe is the daemon skeleton: /metrics and /healthz, and the campaign
// given with -campaign/-contacts (the campaign API comes later). SIGTERM
// stops claiming, lets calls end up to drain_timeout and releases the
// leases of contacts not dialed.
func cmdServe(ctx context.Context, configPath, campaignPath, contactsPath string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := loadConfig(configPath, getenv)
	if err != nil {
		return err
	}
	norm := &dialer.Normalizer{}
	d, err := newDeps(cfg, stderr, norm)
	if err != nil {
		return err
	}
	defer d.close()
	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	dash, err := mountDashboard(ctx, mux, cfg, d) // the live page at /, when dashboard.tokens are set
	if err != nil {
		return err
	}
	defer dash.close()
	backendCtx, stopBackend := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackend()
	var placer dialer.Backend // the config's backend, shared by the API and the -campaign engine
	var placerName string
	backend := func() (dialer.Backend, error) {
		if placer == nil {
			var err error
			if placer, placerName, err = startBackend(backendCtx, cfg, d.log); err != nil {
				return nil, err
			}
		}
		return placer, nil
	}
	var api *httpapi.Handler
	if len(cfg.API.Tokens) > 0 {
		b, err := backend()
		if err != nil {
			return err
		}
		api, err = httpapi.New(cfg.API, httpapi.Options{Store: d.store, Backends: map[string]dialer.Backend{placerName: b},
			DNC: d.dnc, Recorder: dialer.CallLogRecorder{W: d.results}, Logger: d.log, Registerer: d.reg})
		if err != nil {
			return err
		}
		mux.Handle("/v1/", api)
	}
	var metrics http.Handler = promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{})
	if api != nil {
		// The listener faces the API's clients: the campaign ids and
		// counters on /metrics are for a token with metrics:read only.
		metrics = api.Guard("GET /metrics", httpapi.ScopeMetricsRead, metrics)
	}
	mux.Handle("/metrics", metrics)
	var readers []callcenter.Token // the API tokens with events:read open /v1/events (no second token list)
	if api != nil {
		readers = api.CallcenterTokens()
	}
	cc, err := startCallCentre(ctx, mux, cfg, readers, cfg.Dashboard.callcenterTokens(), d.log)
	if err != nil {
		return err
	}
	defer cc.close()
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return err
	}
	hs := newHTTPServer(mux)
	go func() {
		serve := func() error { return hs.Serve(ln) }
		if cfg.API.TLS.Cert != "" {
			serve = func() error { return hs.ServeTLS(ln, cfg.API.TLS.Cert, cfg.API.TLS.Key) }
		}
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("dialer: http", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "dialer serve: http on %s\n", ln.Addr())
	runErr := make(chan error, 1)
	if campaignPath != "" {
		camp, err := loadCampaign(campaignPath)
		if err != nil {
			return err
		}
		norm.DefaultRegion = camp.DefaultRegion
		dash.addCampaign(camp.ID)
		b, err := backend()
		if err != nil {
			return err
		}
		eng, err := d.engine(ctx, camp, b, norm)
		if err != nil {
			return err
		}
		if contactsPath != "" {
			var pre dialer.Preflight
			rep, err := importContacts(ctx, contactsPath, eng, norm, d.dnc, &pre)
			if err != nil {
				return err
			}
			printPreflight(stdout, rep, pre)
		}
		go func() {
			p, err := eng.Run(ctx)
			fmt.Fprintf(stdout, "campaign %s: %v attempts=%d final=%v\n", camp.ID, err, p.Attempts, p.Final)
			runErr <- err
		}()
	}
	<-ctx.Done()
	draining.Store(true)
	d.log.Info("dialer: stopping: no new claims; calls in flight may end", "bound", cfg.DrainTimeout)
	if campaignPath != "" {
		<-runErr // the engine drains within DrainTimeout
	}
	if api != nil {
		api.Close() // the API's engines drain likewise
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shut)
}

// newHTTPServer bounds what one client may hold: slow headers, a header
// block over 16 KB, an idle keep-alive connection. No ReadTimeout or
// WriteTimeout: a contacts upload may take long, and an event stream is
// written for as long as it is open (the handlers bound their own writes).
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}
