package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/fsivr/fsivr/dialer"
)

// cmdRun runs one campaign to its end.
func cmdRun(ctx context.Context, configPath, campaignPath, contactsPath string, stdout, stderr io.Writer, getenv func(string) string, tty bool) error {
	cfg, err := loadConfig(configPath, getenv)
	if err != nil {
		return err
	}
	camp, err := loadCampaign(campaignPath)
	if err != nil {
		return err
	}
	norm := &dialer.Normalizer{DefaultRegion: camp.DefaultRegion}
	d, err := newDeps(cfg, stderr, norm)
	if err != nil {
		return err
	}
	defer d.close()
	// The backend outlives the run's context: a drain still needs it.
	backendCtx, stopBackend := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackend()
	b, _, err := startBackend(backendCtx, cfg, d.log)
	if err != nil {
		return err
	}
	eng, err := d.engine(ctx, camp, b, norm)
	if err != nil {
		return err
	}
	var pre dialer.Preflight
	rep, err := importContacts(ctx, contactsPath, eng, norm, d.dnc, &pre)
	if err != nil {
		return fmt.Errorf("import %s: %w", contactsPath, err)
	}
	pre.Ping(ctx, b)
	printPreflight(stdout, rep, pre)
	total := pre.Contacts - pre.NeverOpen
	if p, err := d.store.Progress(ctx, camp.ID); err == nil {
		total = p.Contacts // a resumed campaign: everything in the store
	}
	view := newProgressView(stdout, tty, cfg.Progress, total)
	viewCtx, stopView := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); view.follow(viewCtx, d.store, camp.ID) }()
	p, err := eng.Run(ctx)
	stopView()
	<-done
	view.finish(p)
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stdout, "stopped: leases of contacts not dialed were released; run again to resume (store redis)")
		return nil
	case errors.Is(err, dialer.ErrCancelled):
		fmt.Fprintln(stdout, "campaign cancelled")
		return nil
	}
	return err
}
