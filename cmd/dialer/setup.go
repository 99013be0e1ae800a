package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/dialer"
)

// deps are what every command builds from the config.
type deps struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *dialer.Metrics
	redis   redis.UniversalClient // nil with store memory and no Redis
	store   dialer.Store
	dnc     dialer.DNC
	results *calllog.Writer
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func newDeps(cfg Config, stderr io.Writer, norm *dialer.Normalizer) (*deps, error) {
	d := &deps{cfg: cfg, log: newLogger(stderr, cfg.LogLevel), reg: prometheus.NewRegistry()}
	var err error
	if d.metrics, err = dialer.NewMetrics(d.reg); err != nil {
		return nil, err
	}
	if len(cfg.Redis.Addrs) > 0 {
		d.redis = redis.NewUniversalClient(&redis.UniversalOptions{
			Addrs: cfg.Redis.Addrs, MasterName: cfg.Redis.MasterName, Password: cfg.Redis.Password,
		})
	}
	switch cfg.Store {
	case "redis":
		d.store = dialer.NewRedisStore(d.redis)
	default:
		d.store = dialer.NewMemStore()
	}
	switch {
	case cfg.DNCFile != "":
		f, err := os.Open(cfg.DNCFile)
		if err != nil {
			return nil, fmt.Errorf("dnc: %w", err)
		}
		defer f.Close()
		if d.dnc, err = dialer.ReadDNC(f, norm); err != nil {
			return nil, err
		}
	case cfg.DNCRedisKey != "":
		if d.redis == nil {
			return nil, errors.New("config: dnc_redis_key needs redis.addrs")
		}
		d.dnc = dialer.RedisDNC{Client: d.redis, Key: cfg.DNCRedisKey}
	}
	wcfg := calllog.Config{Stream: "attempts", Summary: "attempt", SpoolDir: cfg.SpoolDir, Registerer: d.reg}
	if d.results, err = calllog.NewWriter(wcfg, d.redis, d.log); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return d, nil
}

func (d *deps) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.results.Close(ctx); err != nil {
		d.log.Error("dialer: results writer", "err", err)
	}
	if d.redis != nil {
		_ = d.redis.Close()
	}
}

// engine builds the campaign's engine and creates the campaign in the
// store (or finds it there, resumed).
func (d *deps) engine(ctx context.Context, camp dialer.Campaign, b dialer.Backend, norm *dialer.Normalizer) (*dialer.Engine, error) {
	eng, err := dialer.NewEngine(camp, dialer.Options{
		Store: d.store, Backend: b, DNC: d.dnc, Recorder: dialer.CallLogRecorder{W: d.results},
		Logger: d.log, Metrics: d.metrics, Owner: d.cfg.Owner, Lease: d.cfg.Lease,
		DrainTimeout: d.cfg.DrainTimeout, Normalizer: norm,
	})
	if err != nil {
		return nil, err
	}
	if err := eng.Create(ctx); err != nil {
		return nil, err
	}
	return eng, nil
}

// importContacts streams a CSV into the engine and the preflight.
func importContacts(ctx context.Context, path string, eng *dialer.Engine, norm *dialer.Normalizer, dnc dialer.DNC, pre *dialer.Preflight) (dialer.ImportReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return dialer.ImportReport{}, err
	}
	defer f.Close()
	now := time.Now()
	rep, err := dialer.ImportCSV(ctx, f, norm, func(cs []dialer.Contact) error {
		if err := pre.Count(ctx, eng, cs, dnc, now); err != nil {
			return err
		}
		_, _, err := eng.Add(ctx, cs)
		return err
	})
	pre.Report(rep)
	return rep, err
}

func printPreflight(w io.Writer, rep dialer.ImportReport, pre dialer.Preflight) {
	for i, p := range rep.Problems {
		if i == 20 {
			fmt.Fprintf(w, "  ... %d more\n", len(rep.Problems)-20)
			break
		}
		fmt.Fprintf(w, "  %s\n", p)
	}
	var skipped []string
	for k, v := range pre.Skipped {
		skipped = append(skipped, fmt.Sprintf("%s=%d", k, v))
	}
	trunk := "not checked"
	if pre.TrunkChecked {
		trunk = "reachable"
		if pre.TrunkErr != nil {
			trunk = "UNREACHABLE: " + pre.TrunkErr.Error()
		}
	}
	fmt.Fprintf(w, "preflight: rows=%d contacts=%d dialable_now=%d outside_hours=%d never_open=%d dnc=%d skipped=[%s] trunk=%s\n",
		rep.Rows, pre.Contacts, pre.DialableNow, pre.OutsideHours, pre.NeverOpen, pre.DNC, strings.Join(skipped, " "), trunk)
}
