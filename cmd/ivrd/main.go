// Command ivrd is the fsivr IVR controller: FreeSWITCH's `socket` application
// connects to it for every call, and it runs the call through its flow.
//
//	ivrd -config configs/ivrd.yaml
//
// SIGHUP (or any change in the flows directory) reloads the flows after
// validating them; SIGTERM/SIGINT stop accepting calls and drain.
//
// Editors and scripts should write a flow to a temporary file and rename it
// into flows_dir: a rename is atomic. A file rewritten in place is reloaded
// only once it reads the same twice 300 ms apart, and a symlinked flows_dir
// (a Kubernetes ConfigMap) is followed when its target is swapped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/crm"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/ivr"
)

func main() {
	configPath := flag.String("config", "configs/ivrd.yaml", "config file (empty: defaults + environment)")
	flag.Parse()
	if err := run(*configPath); err != nil {
		fmt.Fprintln(os.Stderr, "ivrd:", err)
		os.Exit(1)
	}
}

func run(configPath string) error {
	started := time.Now()
	cfg, err := loadConfig(configPath, os.Getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.LogLevel)
	raiseFileLimit(logger)
	gcPercent, memLimit, err := tuneRuntime(cfg, os.Getenv, cgroupMemoryMax)
	if err != nil {
		return err
	}
	logRuntime(logger, gcPercent, memLimit)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(reg, started)

	registry, err := flows.NewRegistry(cfg.FlowsDir, flows.Options{SoundsDir: cfg.SoundsDir, MaxFileBytes: cfg.MaxFlowBytes})
	if err != nil {
		return fmt.Errorf("flows: %w", err)
	}
	if _, ok := registry.Get(cfg.DefaultFlow); !ok {
		return fmt.Errorf("config: %w: default_flow %q is not one of the flows in %s (%s)",
			ErrBadConfig, cfg.DefaultFlow, cfg.FlowsDir, strings.Join(registry.Names(), ", "))
	}
	logger.Info("flows loaded", "flows", registry.Names())
	for _, name := range registry.Names() {
		f, _ := registry.Get(name)
		for _, w := range f.Warnings {
			logger.Warn("flow warning", "flow", name, "warning", w.Error())
		}
	}

	var rdb redis.UniversalClient
	if len(cfg.Redis.Addrs) > 0 {
		// go-redis's own log lines (pool and cluster failures) go through
		// slog, so ivrd's log stays JSON; the setting is process-wide.
		redis.SetLogger(calllog.RedisLogger(logger))
		// One seed address may be a Cluster node: NewRedisClient asks, so a
		// single address never ends up a plain client that gets MOVED.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rdb, err = calllog.NewRedisClient(pctx, &redis.UniversalOptions{
			Addrs: cfg.Redis.Addrs, MasterName: cfg.Redis.MasterName,
			Password: cfg.Redis.Password, DB: cfg.Redis.DB,
		})
		cancel()
		if err != nil {
			return fmt.Errorf("redis: %w", redactErr(err))
		}
		defer rdb.Close()
	} else {
		logger.Warn("no Redis configured: call logs stay in the spool", "spool", cfg.CallLog.SpoolDir)
	}
	logCfg := cfg.CallLog
	logCfg.Registerer = reg
	writer, err := calllog.NewWriter(logCfg, rdb, logger)
	if err != nil {
		return fmt.Errorf("calllog: %w", redactErr(err))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := writer.Close(cctx); err != nil {
			logger.Error("calllog close", "err", err)
		}
	}()

	if rdb != nil {
		go janitor(ctx, rdb, writer, logger)
	}

	prefetchers := map[string]ivr.Prefetcher{}
	if cfg.CRM.BaseURL != "" {
		crmCfg := cfg.CRM
		crmCfg.Registerer = reg
		c, err := crm.New(crmCfg, &http.Client{Transport: crm.NewTransport()}, logger)
		if err != nil {
			return fmt.Errorf("crm: %w", redactErr(err))
		}
		prefetchers["crm"] = c
	}
	var overrides ivr.OverrideStore
	if rdb != nil {
		overrides = newRedisOverrides(rdb)
	}
	engine := ivr.NewEngine(ivr.Config{
		Flows: registry, DefaultFlow: cfg.DefaultFlow, CallLog: writer,
		Prefetchers: prefetchers, Overrides: overrides, Logger: logger,
		Metrics: ivr.NewMetrics(reg), Sounds: os.DirFS(cfg.SoundsDir),
	})

	allow, err := parsePrefixes(cfg.Allow)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("listening for FreeSWITCH", "addr", ln.Addr().String())

	var h health
	httpStop, stopHTTP := context.WithCancel(context.Background())
	defer stopHTTP() // after the drain: /healthz answers 503 until then
	if cfg.HTTP != "" {
		hln, err := net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return fmt.Errorf("http listen: %w", err)
		}
		go serveHTTP(httpStop, hln, newHTTPHandler(reg, &h, cfg.Pprof), logger)
	}
	go watchReloads(ctx, registry, cfg.FlowsDir, logger)
	context.AfterFunc(ctx, func() {
		h.draining.Store(true)
		notify("STOPPING=1")
	})
	h.ready.Store(true)
	notify("READY=1\nSTATUS=taking calls on " + ln.Addr().String())

	return engine.Serve(ctx, ln, ivr.ServeOptions{Allow: allow, DrainTimeout: cfg.DrainTimeout, Fallback: cfg.DrainFallback, Logger: logger})
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("config allow %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// health is what /healthz and /readyz report.
type health struct {
	ready    atomic.Bool // the listener is up and the flows are loaded
	draining atomic.Bool // SIGTERM/SIGINT: no new calls
}

// newHTTPHandler serves /metrics, /healthz (the process is up: 200, or 503
// while draining so a balancer stops sending calls) and /readyz (200 only
// when the listener is up, the flows are loaded and no drain runs); with
// withPprof, /debug/pprof/ too.
func newHTTPHandler(reg *prometheus.Registry, h *health, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if h.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case h.draining.Load():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case !h.ready.Load():
			http.Error(w, "starting", http.StatusServiceUnavailable)
		default:
			fmt.Fprintln(w, "ready")
		}
	})
	return mux
}

// newHTTPServer bounds every phase of a connection: a client that sends
// headers slowly, or keeps an idle keep-alive connection, is cut.
func newHTTPServer(addr string, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// serveHTTP runs the HTTP server until stop is done: that is after the
// drain, so /healthz can say 503 while calls drain.
func serveHTTP(stop context.Context, ln net.Listener, handler http.Handler, logger *slog.Logger) {
	srv := newHTTPServer(ln.Addr().String(), handler)
	go func() {
		<-stop.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("http server", "err", err)
	}
}

// reloadSettle is how long a flow file must read the same before a file
// change is reloaded (editors and scripts write in bursts).
const reloadSettle = 300 * time.Millisecond

// watchReloads reloads the flows on SIGHUP and when something changes in
// dir. A reload validates every flow first; a bad edit is refused with its
// errors and the running versions stay. A file still being written is not
// reloaded until it reads the same twice. When dir is a symlink (a
// ConfigMap-style swap of the whole directory) its parent is watched too
// and the watch follows the new target; inside dir every event counts, not
// only *.yaml names (Kubernetes swaps a "..data" symlink).
func watchReloads(ctx context.Context, registry *flows.Registry, dir string, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var events <-chan fsnotify.Event
	var target string // the resolved dir being watched
	w, err := fsnotify.NewWatcher()
	if err != nil {
		logger.Warn("cannot watch flows dir; SIGHUP still reloads", "dir", dir, "err", err)
	} else {
		defer w.Close()
		events = w.Events
		if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			if err := w.Add(filepath.Dir(filepath.Clean(dir))); err != nil {
				logger.Warn("cannot watch the flows dir's parent; a swap of the symlink needs SIGHUP", "dir", dir, "err", err)
			}
		}
		target = follow(w, dir, "", logger)
	}
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			notify("RELOADING=1")
			reload(registry, logger, "SIGHUP")
			notify("READY=1")
		case <-events:
			if w != nil {
				target = follow(w, dir, target, logger)
			}
			settle = time.After(reloadSettle)
		case <-settle:
			settle = nil
			err := registry.ReloadSettled(reloadSettle)
			if errors.Is(err, flows.ErrUnsettled) {
				logger.Info("a flow file is still being written; reload postponed")
				settle = time.After(reloadSettle)
				continue
			}
			logReload(registry, logger, "file change", err)
		}
	}
}

// follow makes sure the watch is on dir's current target and returns it.
func follow(w *fsnotify.Watcher, dir, watched string, logger *slog.Logger) string {
	t, err := filepath.EvalSymlinks(dir)
	if err != nil || t == watched {
		return watched
	}
	if watched != "" {
		_ = w.Remove(watched)
	}
	if err := w.Add(t); err != nil {
		logger.Warn("cannot watch flows dir; SIGHUP still reloads", "dir", dir, "target", t, "err", err)
		return ""
	}
	return t
}

func reload(registry *flows.Registry, logger *slog.Logger, why string) {
	logReload(registry, logger, why, registry.Reload())
}

func logReload(registry *flows.Registry, logger *slog.Logger, why string, err error) {
	if err != nil {
		logger.Error("flow reload refused; the running versions stay", "trigger", why, "err", err)
		return
	}
	logger.Info("flows reloaded", "trigger", why, "flows", registry.Names())
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit: every call
// is one socket, and the common soft default (1024) would refuse calls long
// before the CPU is busy.
func raiseFileLimit(logger *slog.Logger) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur >= rl.Max {
		return
	}
	old := rl.Cur
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		logger.Warn("cannot raise the open-file limit", "soft", old, "hard", rl.Max, "err", err)
	}
}
