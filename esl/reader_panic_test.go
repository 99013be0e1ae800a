package esl

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fsivr/fsivr/internal/logbuf"
)

// TestReaderPanicClosesOneConnection: a panic met while reading one
// connection (a bug in the framing or the dispatch) closes that connection
// with ErrInternal and an error log line carrying the panic and its stack;
// the process, and so every other call, goes on.
func TestReaderPanicClosesOneConnection(t *testing.T) {
	peer, nc := tcpPair(t)
	var logs logbuf.Buffer
	cfg := Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}.withDefaults()
	c := newConn(nc, newConnReader(nc, cfg), cfg)
	c.claim = func(*Message) bool { panic("index out of range, say") }
	c.start()
	defer c.Close()
	if _, err := peer.Write([]byte(fixLen("Content-Length: 41\nContent-Type: text/event-plain\n\nEvent-Name: CUSTOM\nUnique-ID: u1\nSeq: 1\n\n"))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection stayed open after its reader panicked")
	}
	if !errors.Is(c.Err(), ErrInternal) {
		t.Errorf("Err = %v, want ErrInternal", c.Err())
	}
	if l := logs.String(); !strings.Contains(l, "reader panicked") || !strings.Contains(l, "index out of range, say") || !strings.Contains(l, "readLoop") {
		t.Errorf("no error line with the panic and its stack: %s", l)
	}
}
