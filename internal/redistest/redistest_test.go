package redistest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/internal/redistest"
)

func TestServerKillRestartKeepsAOF(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{AppendOnly: true})
	ctx := context.Background()
	client := srv.Client(t)
	if err := client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if srv.Running() {
		t.Fatal("running after Kill")
	}
	if err := client.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Kill")
	}
	srv.Restart()
	if v, err := client.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
	srv.Close()
	srv.Close() // idempotent
	if err := client.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Close")
	}
}

func TestUnstartedServerStartsLater(t *testing.T) {
	srv := redistest.NewUnstartedServer(t, redistest.Options{})
	client := srv.Client(t)
	ctx := context.Background()
	if err := client.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered before Start")
	}
	srv.Start()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

// keyOnEveryMaster returns one key per master (index into Addrs).
func keyOnEveryMaster(t *testing.T, cl *redistest.Cluster, masters int) map[int]string {
	keys := map[int]string{}
	for i := 0; len(keys) < masters && i < 1000; i++ {
		k := fmt.Sprintf("{k%d}", i)
		m := cl.MasterOf(k)
		if _, ok := keys[m]; !ok {
			keys[m] = k
		}
	}
	if len(keys) != masters {
		t.Fatalf("keys reach %d masters, want %d", len(keys), masters)
	}
	return keys
}

func TestClusterShardsSurviveOneDeadMaster(t *testing.T) {
	cl := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 3, AppendOnly: true})
	if len(cl.Addrs) != 3 {
		t.Fatalf("addrs %v", cl.Addrs)
	}
	ctx := context.Background()
	cc := cl.Client(t)
	keys := keyOnEveryMaster(t, cl, 3)
	for _, k := range keys {
		if err := cc.Set(ctx, k, "1", 0).Err(); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
	// A plain client on one node gets MOVED for a key of another master.
	plain := redis.NewClient(&redis.Options{Addr: cl.Addrs[0]})
	defer plain.Close()
	for m, k := range keys {
		err := plain.Get(ctx, k).Err()
		if m == 0 && err != nil {
			t.Fatalf("own key %s: %v", k, err)
		}
		if m != 0 && !isMoved(err) {
			t.Fatalf("key %s of node %d through node 0: err %v, want MOVED", k, m, err)
		}
	}

	victim := cl.MasterOf(keys[1])
	cl.Node(victim).Kill()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := cc.Set(sctx, keys[victim], "2", 0).Err(); err == nil {
		t.Fatal("write to the dead master's slot succeeded")
	}
	for m, k := range keys {
		if m == victim {
			continue
		}
		if err := cc.Set(ctx, k, "2", 0).Err(); err != nil {
			t.Fatalf("write to live master %d while %d is dead: %v", m, victim, err)
		}
	}
	cl.Node(victim).Restart()
	cl.WaitOK()
	if v, err := cc.Get(ctx, keys[victim]).Result(); err != nil || v != "1" {
		t.Fatalf("dead master's key after restart: %q, %v", v, err)
	}
}

func isMoved(err error) bool {
	_, ok := redis.IsMovedError(err)
	return ok
}
