package ami

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/logbuf"
)

// TestReaderPanicClosesOneConnection: a panic met while reading one
// connection (here a reply delivered to a closed channel, a bug the
// dispatch could have) closes that connection with ErrInternal and an
// error log line carrying the panic and its stack; the process goes on.
func TestReaderPanicClosesOneConnection(t *testing.T) {
	var logs logbuf.Buffer
	c, p := newPair(t, Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	broken := make(chan *Response, 1)
	close(broken)
	c.mu.Lock()
	c.pending["x-1"] = &pending{action: "Ping", ch: broken}
	c.mu.Unlock()
	p.send("Response: Success\r\nActionID: x-1\r\nPing: Pong\r\n\r\n")
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection stayed open after its reader panicked")
	}
	if !errors.Is(c.Err(), ErrInternal) {
		t.Errorf("Err = %v, want ErrInternal", c.Err())
	}
	if l := logs.String(); !strings.Contains(l, "reader panicked") || !strings.Contains(l, "send on closed channel") || !strings.Contains(l, "readLoop") {
		t.Errorf("no error line with the panic and its stack: %s", l)
	}
}
