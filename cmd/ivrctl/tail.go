package main

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/fsivr/fsivr/calllog"
)

// newTailCmd follows the call log streams through a consumer group. The work
// is calllog.Tail; this wrapper only maps flags, builds the client (one seed
// address of a cluster is detected) and stops on SIGINT/SIGTERM.
func newTailCmd() *cobra.Command {
	var (
		addrs      []string
		master     string
		password   string
		db         int
		fromStart  bool
		streams    []string
		shards     int
		namespace  string
		streamName string
		opts       calllog.TailOptions
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Follow the call log in Redis through a consumer group, filtered by flow or call",
		Long: `tail reads the call log streams through a consumer group (created with MKSTREAM
if missing), prints each entry readably (or one JSON object per line with --json)
and acknowledges it. It first re-reads its own unacknowledged entries. With
--shards N it reads every shard's stream ({<namespace>:0}:<name> ...), one
XREADGROUP per stream. Failovers and restarts of Redis (connection refused,
CLUSTERDOWN, LOADING) are retried with backoff, resuming from the group.
Ctrl-C stops it.

Examples:
  ivrctl tail --flow sales
  ivrctl tail --shards 3 --redis 10.0.0.1:7000
  ivrctl tail --call 6f1c2a52-... --from-start --once
  ivrctl tail --json --count 100 --group billing --consumer worker-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Count < 0 {
				return errors.New("tail: --count must be >= 0")
			}
			if shards < 1 {
				return errors.New("tail: --shards must be >= 1")
			}
			if fromStart {
				opts.Start = "0"
			}
			switch {
			case shards > 1 && cmd.Flags().Changed("stream"):
				return errors.New("tail: --stream and --shards exclude each other (--shards derives the stream keys from --namespace and --stream-name)")
			case shards > 1 || cmd.Flags().Changed("namespace") || cmd.Flags().Changed("stream-name"):
				opts.Streams = calllog.Keys{Namespace: namespace, Stream: streamName, Shards: shards}.StreamKeys()
			default:
				opts.Streams = streams
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			opts.Logger = logger
			// go-redis's own log lines through slog. redis.SetLogger is
			// process-global; this command is the process's main path.
			redis.SetLogger(calllog.RedisLogger(logger))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// One address: a single server, or a cluster seed (detected);
			// several: Cluster; --master-name: Sentinel.
			client, err := calllog.NewRedisClient(ctx, &redis.UniversalOptions{
				Addrs: addrs, MasterName: master, Password: password, DB: db,
			})
			if err != nil {
				return err
			}
			defer client.Close()
			_, err = calllog.Tail(ctx, client, opts, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&addrs, "redis", []string{"127.0.0.1:6379"}, "Redis address(es): one = single server or a cluster seed (detected), several = Cluster (or Sentinels with --master-name)")
	f.StringVar(&master, "master-name", "", "Sentinel master name")
	f.StringVar(&password, "redis-password", os.Getenv("REDIS_PASSWORD"), "Redis password (default $REDIS_PASSWORD)")
	f.IntVar(&db, "redis-db", 0, "Redis database number (not in Cluster)")
	f.StringSliceVar(&streams, "stream", []string{"{fsivr}:calls"}, "stream key(s) to read")
	f.IntVar(&shards, "shards", 1, "read every shard's stream of a writer with this many shards (calllog shards)")
	f.StringVar(&namespace, "namespace", calllog.DefaultNamespace, "key namespace (hash tag) of the streams, with --shards")
	f.StringVar(&streamName, "stream-name", calllog.DefaultStream, "stream name after the tag, with --shards")
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
