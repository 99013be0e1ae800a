package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterOptions configure a Redis Cluster on loopback.
type ClusterOptions struct {
	// Masters is the number of master nodes (slots are split evenly by
	// redis-cli). Default 3, the smallest cluster redis-cli creates.
	Masters int
	// Replicas is the number of replicas per master (default 0). With
	// replicas, a SIGKILLed master fails over after about NodeTimeout.
	Replicas int
	// NodeTimeout is cluster-node-timeout: how long a node may be unreachable
	// before it is considered failing. Default 1s (Redis's is 15s), so
	// failover tests stay short.
	NodeTimeout time.Duration
	// FullCoverage keeps Redis's default cluster-require-full-coverage yes:
	// the whole cluster refuses writes (CLUSTERDOWN) while any slot has no
	// master. By default it is "no", so the surviving masters keep serving
	// their slots while one is dead — what shard-independence tests need.
	FullCoverage bool
	// AppendOnly turns on the AOF on every node (see Options.AppendOnly).
	AppendOnly bool
	// Args are extra redis-server arguments for every node.
	Args []string
}

// clusterReadyTimeout bounds how long NewCluster and WaitOK wait for
// cluster_state:ok; it is a failure guard, not a timing assertion.
const clusterReadyTimeout = 30 * time.Second

// Cluster is a running Redis Cluster: Masters*(1+Replicas) redis-server
// processes with cluster-enabled yes, joined by redis-cli --cluster create.
type Cluster struct {
	t testing.TB
	// Addrs lists every node's host:port, the initial masters first. Each
	// address stays the same across a node's Restart.
	Addrs []string
	nodes []*Server
}

// NewCluster starts a Redis Cluster on free loopback ports (each node's port
// and its cluster-bus port, port+10000, are free), creates it with
// `redis-cli --cluster create ... --cluster-yes` and returns it once every
// node reports cluster_state:ok with every slot assigned. It skips the test
// if redis-server or redis-cli is absent, and fails it if the cluster does
// not form. Close (also run by t.Cleanup) kills every node.
func NewCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	Binary(t)
	cli := lookPath(t, "redis-cli")
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	if opts.Masters < 3 {
		t.Fatalf("redistest: a Redis Cluster needs at least 3 masters, got %d", opts.Masters)
	}
	if opts.NodeTimeout == 0 {
		opts.NodeTimeout = time.Second
	}
	coverage := "no"
	if opts.FullCoverage {
		coverage = "yes"
	}
	c := &Cluster{t: t}
	t.Cleanup(c.Close)
	for range opts.Masters * (1 + opts.Replicas) {
		args := append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(opts.NodeTimeout.Milliseconds(), 10),
			"--cluster-require-full-coverage", coverage,
		}, opts.Args...)
		srv := NewServer(t, Options{AppendOnly: opts.AppendOnly, Port: clusterPort(t), Args: args})
		c.nodes = append(c.nodes, srv)
		c.Addrs = append(c.Addrs, srv.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	var out bytes.Buffer
	cmd := exec.Command(cli, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out.String())
	}
	c.WaitOK()
	return c
}

// clusterPort returns a free port whose cluster-bus port (+10000) is free too.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := FreePort(t)
		if p+10000 > 65535 {
			continue
		}
		if portFree(p + 10000) {
			return p
		}
	}
	t.Fatal("redistest: no free port pair (port, port+10000) for a cluster node")
	return 0
}

func portFree(port int) bool {
	l, err := listenLoopback(port)
	if err != nil {
		return false
	}
	return l.Close() == nil
}

// Node returns the i-th node (index into Addrs): Kill, Restart, Stop it to
// inject faults. A restarted node keeps its node id and role from its
// nodes.conf; call WaitOK before relying on the cluster again.
func (c *Cluster) Node(i int) *Server { return c.nodes[i] }

// Nodes returns every node, in Addrs order.
func (c *Cluster) Nodes() []*Server { return append([]*Server(nil), c.nodes...) }

// Close kills every node. It is idempotent and also run by t.Cleanup.
func (c *Cluster) Close() {
	for _, n := range c.nodes {
		n.Close()
	}
}

// Client returns a cluster client seeded with every node's address, closed
// by t.Cleanup.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// clusterInfo returns the fields of CLUSTER INFO of one node.
func clusterInfo(ctx context.Context, addr string) (map[string]string, error) {
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	s, err := client.ClusterInfo(ctx).Result()
	if err != nil {
		return nil, err
	}
	info := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			info[k] = v
		}
	}
	return info, nil
}

// WaitOK waits until every running node reports cluster_state:ok, all 16384
// slots served and knows every node; it fails the test after a bound.
func (c *Cluster) WaitOK() {
	c.t.Helper()
	deadline := time.Now().Add(clusterReadyTimeout)
	for {
		why := c.notOK()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: cluster not ok within %v: %s", clusterReadyTimeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) notOK() string {
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := clusterInfo(ctx, n.Addr)
		cancel()
		switch {
		case err != nil:
			return fmt.Sprintf("%s: CLUSTER INFO: %v", n.Addr, err)
		case info["cluster_state"] != "ok":
			return fmt.Sprintf("%s: cluster_state:%s", n.Addr, info["cluster_state"])
		case info["cluster_slots_ok"] != "16384":
			return fmt.Sprintf("%s: cluster_slots_ok:%s", n.Addr, info["cluster_slots_ok"])
		case info["cluster_known_nodes"] != strconv.Itoa(len(c.nodes)):
			return fmt.Sprintf("%s: cluster_known_nodes:%s of %d", n.Addr, info["cluster_known_nodes"], len(c.nodes))
		}
	}
	return ""
}

// MasterOf returns the index (into Addrs) of the node that serves key's slot
// now, as the first running node answering CLUSTER SHARDS sees it. It fails
// the test if no running node answers or no node serves the slot.
func (c *Cluster) MasterOf(key string) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var lastErr error
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		client := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		slot, err := client.ClusterKeySlot(ctx, key).Result()
		var shards []redis.ClusterShard
		if err == nil {
			shards, err = client.ClusterShards(ctx).Result()
		}
		_ = client.Close()
		if err != nil {
			lastErr = err
			continue
		}
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if r.Start > slot || slot > r.End {
					continue
				}
				for _, node := range sh.Nodes {
					if node.Role != "master" || node.Health != "online" {
						continue
					}
					addr := net.JoinHostPort(node.IP, strconv.FormatInt(node.Port, 10))
					for i, a := range c.Addrs {
						if a == addr {
							return i
						}
					}
					c.t.Fatalf("redistest: slot %d of %q served by unknown node %s", slot, key, addr)
				}
			}
		}
		c.t.Fatalf("redistest: no online master serves slot %d of %q (asked %s)", slot, key, n.Addr)
	}
	c.t.Fatalf("redistest: no running node answered CLUSTER SHARDS: %v", lastErr)
	return -1
}
