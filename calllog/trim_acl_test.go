package calllog_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/redistest"
)

// A Redis user that may not run XTRIM (a least-privilege ACL written for a
// release whose script trimmed with XADD MAXLEN): the script's XTRIM is
// refused after the batch's XADDs, and a script error does not undo what it
// wrote. Each entry must still be in the stream once: nothing the script
// can fail on may come between the entries and their dedupe marks, or
// every replay of the refused batch appends it again.
func TestTrimRefusedWritesEachEntryOnce(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	admin := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.Do(ctx, "ACL", "SETUSER", "calllog", "on", ">pw", "~*", "&*", "+@all", "-xtrim").Err(); err != nil {
		t.Skipf("this Redis has no ACLs: %v", err)
	}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "calllog", Password: "pw"})
	t.Cleanup(func() { _ = client.Close() })
	w := newWriter(t, calllog.Config{FlushDelay: -1, RetryInterval: 20 * time.Millisecond}, client)
	const n = 3
	for i := range n {
		w.Append(calllog.Entry{Call: "c1", Kind: calllog.KindNode, Node: "n", Value: strconv.Itoa(i)})
	}
	key := w.Keys().StreamKey(0)
	waitFor(t, "the batch written and its spool replayed, or written twice", func() bool {
		st := w.Stats()
		return admin.XLen(ctx, key).Val() > n || (st.Segments == 0 && st.Written+st.Duplicates >= n)
	})
	closeWriter(t, w)
	msgs := readStream(t, admin, key)
	if len(msgs) != n {
		t.Fatalf("%d stream entries for %d appended (stats %+v)", len(msgs), n, w.Stats())
	}
	for i, m := range msgs {
		if got := str(m.Values["value"]); got != strconv.Itoa(i) {
			t.Fatalf("entry %d has value %q", i, got)
		}
	}
}
