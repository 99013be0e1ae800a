package calllog_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fsivr/fsivr/calllog"
	"github.com/fsivr/fsivr/internal/logbuf"
	"github.com/fsivr/fsivr/internal/redistest"
)

// A Redis user that may not run XTRIM (a least-privilege ACL written for a
// release whose script trimmed with XADD MAXLEN): the trim is refused after
// the batch's entries and marks are written. The batch must count as
// written (not spooled and replayed for ever), each entry be in the stream
// once, and the refusal be counted (the stream is not trimmed) and logged.
func TestTrimRefusedWritesEachEntryOnce(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	admin := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.Do(ctx, "ACL", "SETUSER", "calllog", "on", ">pw", "~*", "&*", "+@all", "-xtrim").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "calllog", Password: "pw"})
	t.Cleanup(func() { _ = client.Close() })
	var logs logbuf.Buffer
	w, err := calllog.NewWriter(calllog.Config{SpoolDir: t.TempDir(), FlushDelay: -1, RetryInterval: 20 * time.Millisecond},
		client, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	for i := range n {
		w.Append(calllog.Entry{Call: "c1", Kind: calllog.KindNode, Node: "n", Value: strconv.Itoa(i)})
	}
	key := w.Keys().StreamKey(0)
	waitFor(t, "the batch written", func() bool { return w.Stats().Written+w.Stats().Duplicates >= n })
	closeWriter(t, w)
	st := w.Stats()
	if st.Written != n || st.Spooled != 0 || st.TrimRefused == 0 {
		t.Errorf("stats %+v: want %d written, none spooled, the refused trim counted", st, n)
	}
	msgs := readStream(t, admin, key)
	if len(msgs) != n {
		t.Fatalf("%d stream entries for %d appended (stats %+v)", len(msgs), n, st)
	}
	for i, m := range msgs {
		if got := str(m.Values["value"]); got != strconv.Itoa(i) {
			t.Fatalf("entry %d has value %q", i, got)
		}
	}
	if l := logs.String(); strings.Count(l, "refused XTRIM") != 1 {
		t.Errorf("want one log line about the refused XTRIM: %s", l)
	}
}
