package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/fsivr/fsivr/calllog"
)

// newTailCmd follows the call log stream through a consumer group. The work is
// calllog.Tail; this wrapper only maps flags and stops on SIGINT/SIGTERM.
func newTailCmd() *cobra.Command {
	var (
		addrs     []string
		master    string
		password  string
		db        int
		fromStart bool
		opts      calllog.TailOptions
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Follow the call log in Redis through a consumer group, filtered by flow or call",
		Long: `tail reads the call log stream through a consumer group (created with MKSTREAM
if missing), prints each entry readably (or one JSON object per line with --json)
and acknowledges it. It first re-reads its own unacknowledged entries.
Ctrl-C stops it.

Examples:
  ivrctl tail --flow sales
  ivrctl tail --call 6f1c2a52-... --from-start --once
  ivrctl tail --json --count 100 --group billing --consumer worker-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Count < 0 {
				return errors.New("tail: --count must be >= 0")
			}
			if fromStart {
				opts.Start = "0"
			}
			// One address = single Redis, several = Cluster, --master-name = Sentinel.
			client := redis.NewUniversalClient(&redis.UniversalOptions{
				Addrs: addrs, MasterName: master, Password: password, DB: db,
			})
			defer client.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, err := calllog.Tail(ctx, client, opts, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&addrs, "redis", []string{"127.0.0.1:6379"}, "Redis address(es): one = single server, several = Cluster (or Sentinels with --master-name)")
	f.StringVar(&master, "master-name", "", "Sentinel master name")
	f.StringVar(&password, "redis-password", os.Getenv("REDIS_PASSWORD"), "Redis password (default $REDIS_PASSWORD)")
	f.IntVar(&db, "redis-db", 0, "Redis database number (not in Cluster)")
	f.StringVar(&opts.Stream, "stream", "{fsivr}:calls", "stream key")
	f.StringVar(&opts.Group, "group", "ivrctl-tail", "consumer group (created if missing)")
	f.StringVar(&opts.Consumer, "consumer", "", "consumer name in the group (default <hostname>-<pid>)")
	f.BoolVar(&fromStart, "from-start", false, "a newly created group starts at the beginning of the stream, not at new entries")
	f.StringVar(&opts.Flow, "flow", "", "print only entries of this flow")
	f.StringVar(&opts.Call, "call", "", "print only entries of this call uuid")
	f.IntVar(&opts.Count, "count", 0, "exit after printing N entries (0 = no limit)")
	f.BoolVar(&opts.Once, "once", false, "exit when no entry is waiting instead of following")
	f.BoolVar(&opts.JSON, "json", false, "print one JSON object per line")
	f.DurationVar(&opts.ClaimIdle, "claim-idle", 0, "first take over entries other consumers left unacknowledged this long (XAUTOCLAIM), e.g. 1m")
	f.DurationVar(&opts.Block, "block", time.Second, "how long one read waits for new entries")
	return cmd
}
