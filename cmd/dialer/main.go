// Command dialer places outbound campaigns through Asterisk (AMI or call
// files) or FreeSWITCH (inbound event socket): config key backend.
//
//	dialer run [-config dialer.yaml] campaign.yaml contacts.csv
//	dialer demo
//	dialer serve [-config dialer.yaml] [-campaign campaign.yaml -contacts contacts.csv]
//
// `run` runs one campaign to its end with a progress bar on a terminal
// (plain periodic lines otherwise); `demo` runs a small campaign against a
// fake Asterisk (ami/amitest) with the in-process store, needing neither
// Asterisk nor Redis, and prints what happened; `serve` is the daemon:
// /metrics and /healthz, SIGTERM stops claiming, lets calls end up to
// drain_timeout and releases the leases of contacts not dialed.
//
// Every key of the config has an environment override FSIVR_<KEY>
// (FSIVR_STORE, FSIVR_REDIS_ADDRS, FSIVR_AMI_ADDR, FSIVR_AMI_SECRET, ...).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // contacts' zones must not depend on the host's tzdata

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tty := term.IsTerminal(int(os.Stdout.Fd()))
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, tty))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage:\n  dialer run [-config dialer.yaml] campaign.yaml contacts.csv\n  dialer demo\n  dialer serve [-config dialer.yaml] [-campaign c.yaml -contacts c.csv]")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, tty bool) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "dialer config (YAML)")
	campaignPath := fs.String("campaign", "", "serve: a campaign to run")
	contactsPath := fs.String("contacts", "", "serve: its contacts (CSV)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		if fs.NArg() != 2 {
			usage(stderr)
			return 2
		}
		err = cmdRun(ctx, *configPath, fs.Arg(0), fs.Arg(1), stdout, stderr, getenv, tty)
	case "demo":
		err = cmdDemo(ctx, stdout)
	case "serve":
		err = cmdServe(ctx, *configPath, *campaignPath, *contactsPath, stdout, stderr, getenv)
	default:
		usage(stderr)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "dialer %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
