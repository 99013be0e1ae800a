package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/amidial"
	"github.com/fsivr/fsivr/dialer/callfile"
	"github.com/fsivr/fsivr/dialer/esldial"
)

// checkBackend validates the backend's section at start, so a typo is an
// error before anything is dialed (never the password in it).
func checkBackend(cfg Config) error {
	switch cfg.Backend {
	case "ami":
		if cfg.AMI.Addr == "" {
			return errors.New("config: backend ami needs ami.addr")
		}
	case "callfile":
		c := cfg.CallFile
		if c.SpoolDir == "" {
			return errors.New("config: backend callfile needs callfile.spool_dir (Asterisk's astspooldir)")
		}
		if _, err := callFileOwner(c.Owner); err != nil {
			return err
		}
		if _, err := callFileMode(c.Mode); err != nil {
			return err
		}
		if c.AMI && cfg.AMI.Addr == "" {
			return errors.New("config: callfile.ami needs ami.addr")
		}
		if c.MaxSpool < 0 {
			return fmt.Errorf("config: callfile.max_spool %d: must be >= 0", c.MaxSpool)
		}
	case "freeswitch":
		f := cfg.FreeSWITCH
		if f.Addr == "" {
			return errors.New("config: backend freeswitch needs freeswitch.addr (the inbound event socket)")
		}
		if f.Password == "" {
			return errors.New("config: backend freeswitch needs freeswitch.password (FSIVR_FREESWITCH_PASSWORD)")
		}
		if strings.ContainsAny(f.Password, "\r\n") {
			return errors.New("config: freeswitch.password: contains a line break")
		}
		for key, v := range map[string]string{"freeswitch.context": f.Context, "freeswitch.exten": f.Exten} {
			if v == "" {
				continue
			}
			if err := dialer.CheckValue(v); err != nil || strings.ContainsAny(v, " '") {
				return fmt.Errorf("config: %s %q: not a plain dialplan name", key, v)
			}
		}
	default:
		return fmt.Errorf("config: backend %q: ami, callfile or freeswitch", cfg.Backend)
	}
	return nil
}

func callFileOwner(s string) (*callfile.Owner, error) {
	if s == "" {
		return nil, nil
	}
	u, g, ok := strings.Cut(s, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return nil, fmt.Errorf("config: callfile.owner %q: want uid:gid (numbers)", s)
	}
	return &callfile.Owner{UID: uid, GID: gid}, nil
}

func callFileMode(s string) (fs.FileMode, error) {
	if s == "" {
		return 0, nil
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 || m&0o600 != 0o600 {
		return 0, fmt.Errorf("config: callfile.mode %q: want octal permissions readable and writable by the owner (0640)", s)
	}
	return fs.FileMode(m), nil
}

// startBackend builds the configured backend, runs it until ctx ends and
// waits (bounded) until it is ready; the preflight reports one that is
// not. name is the key the HTTP API's trunks use for it: "asterisk" (ami,
// callfile) or "freeswitch".
func startBackend(ctx context.Context, cfg Config, log *slog.Logger) (b dialer.Backend, name string, err error) {
	type runner interface {
		dialer.Backend
		Run(context.Context) error
		Ready() <-chan struct{}
	}
	var r runner
	name = "asterisk"
	switch cfg.Backend {
	case "callfile":
		c := cfg.CallFile
		owner, _ := callFileOwner(c.Owner) // checked by loadConfig
		mode, _ := callFileMode(c.Mode)
		fc := callfile.Config{SpoolDir: c.SpoolDir, TempDir: c.TempDir, Owner: owner, Mode: mode, MaxSpool: c.MaxSpool, Logger: log}
		if c.AMI {
			fc.AMI = &callfile.AMIConfig{Addr: cfg.AMI.Addr, Username: cfg.AMI.Username, Secret: cfg.AMI.Secret,
				Config: ami.Config{Logger: log}}
		}
		cb, err := callfile.New(fc)
		if err != nil {
			return nil, "", fmt.Errorf("backend callfile: %w", err)
		}
		r = cb
	case "freeswitch":
		f := cfg.FreeSWITCH
		r = esldial.New(esldial.Config{Addr: f.Addr, Password: f.Password, Context: f.Context, Exten: f.Exten, Logger: log})
		name = "freeswitch"
	default:
		r = amidial.New(amidial.Config{Addr: cfg.AMI.Addr, Username: cfg.AMI.Username, Secret: cfg.AMI.Secret, Logger: log,
			AMI: ami.Config{Logger: log}})
	}
	go func() {
		if err := r.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("dialer: backend", "backend", cfg.Backend, "err", err)
		}
	}()
	select {
	case <-r.Ready():
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
	}
	return r, name, nil
}
