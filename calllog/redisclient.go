package calllog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrClusterDB is returned by NewRedisClient for a database number other
// than 0 on a Redis Cluster, which has only database 0.
var ErrClusterDB = errors.New("calllog: Redis Cluster has only database 0")

// NewRedisClient builds the client for opts the way an operator means it:
// several addresses are a Cluster, MasterName means Sentinel, and one address
// is asked CLUSTER INFO — if that node is part of a cluster the result is a
// cluster client seeded with it (so one seed address works; a plain client
// would get MOVED for most keys), otherwise a plain client. If the single
// node cannot be reached the result is a plain client and a nil error (the
// writer spools until Redis is back; a plain client that meets a cluster then
// logs a MOVED error naming the fix). ContextTimeoutEnabled is set, so the
// writer's WriteTimeout bounds a Redis that hangs.
func NewRedisClient(ctx context.Context, opts *redis.UniversalOptions) (redis.UniversalClient, error) {
	o := *opts
	o.ContextTimeoutEnabled = true
	if o.MasterName != "" || len(o.Addrs) != 1 || o.IsClusterMode {
		if o.DB != 0 && o.MasterName == "" && (len(o.Addrs) > 1 || o.IsClusterMode) {
			return nil, fmt.Errorf("%w: db %d with cluster addresses %v", ErrClusterDB, o.DB, o.Addrs)
		}
		return redis.NewUniversalClient(&o), nil
	}
	// Probe with db 0: a cluster node refuses SELECT, which would hide it.
	probeOpts := o.Simple()
	probeOpts.DB = 0
	probe := redis.NewClient(probeOpts)
	cluster, err := isClusterNode(ctx, probe)
	_ = probe.Close()
	if err != nil || !cluster {
		return redis.NewClient(o.Simple()), nil
	}
	if o.DB != 0 {
		return nil, fmt.Errorf("%w: %s is a cluster node, but db is %d", ErrClusterDB, o.Addrs[0], o.DB)
	}
	return redis.NewClusterClient(o.Cluster()), nil
}

// isClusterNode asks CLUSTER INFO: a node without cluster support answers
// "ERR This instance has cluster support disabled".
func isClusterNode(ctx context.Context, c *redis.Client) (bool, error) {
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			return false, nil // a Redis error reply: no cluster support
		}
		return false, err
	}
	return strings.Contains(info, "cluster_state:"), nil
}

// RedisLogger adapts a slog.Logger to go-redis's logger, so the library's own
// lines (pool dial failures, cluster reloads) come out as structured records
// in the process's log instead of plain text on stderr:
//
//	redis.SetLogger(calllog.RedisLogger(logger))
//
// redis.SetLogger is process-global: call it once, from main.
func RedisLogger(l *slog.Logger) *SlogRedisLogger {
	return &SlogRedisLogger{logger: l.With("component", "go-redis")}
}

// SlogRedisLogger is go-redis's logging interface over slog; every line is a
// warning (go-redis logs only failures worth an operator's eye).
type SlogRedisLogger struct{ logger *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l *SlogRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}
