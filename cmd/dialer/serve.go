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

	"github.com/fsivr/fsivr/dialer"
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
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("dialer: http", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "dialer serve: http on %s\n", ln.Addr())
	backendCtx, stopBackend := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackend()
	runErr := make(chan error, 1)
	if campaignPath != "" {
		camp, err := loadCampaign(campaignPath)
		if err != nil {
			return err
		}
		norm.DefaultRegion = camp.DefaultRegion
		b := startAMI(backendCtx, cfg.AMI, d.log)
		eng, err := d.engine(camp, b, norm)
		if err != nil {
			return err
		}
		if err := eng.Create(ctx); err != nil {
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
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shut)
}
