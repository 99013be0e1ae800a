// Package redistest starts real Redis servers for tests, in the manner of
// net/http/httptest: NewServer returns a redis-server already running on a
// free loopback port (Addr), NewCluster a real Redis Cluster of several
// redis-server processes joined by `redis-cli --cluster create`; Close kills
// them. Both are also closed by t.Cleanup, so a test may forget Close.
//
// Tests exercise faults on real processes: Kill sends SIGKILL, Restart starts
// the same server again on the same port with the same data directory (so an
// AOF written before a Kill is loaded, and a cluster node keeps its node id
// and slots through its nodes.conf).
//
// redis-server (and redis-cli for a cluster) are looked up on PATH; when they
// are absent the test is skipped with a message naming the package to
// install. CI installs them, so there nothing skips.
//
//	srv := redistest.NewServer(t, redistest.Options{AppendOnly: true})
//	client := srv.Client(t)
//	srv.Kill()
//	srv.Restart()
//
//	cl := redistest.NewCluster(t, redistest.ClusterOptions{Masters: 3})
//	cc := cl.Client(t) // *redis.ClusterClient seeded with every node
//	cl.Node(cl.MasterOf("{fsivr:1}:calls")).Kill()
package redistest
