package netctx

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// A read while part of a message is buffered is bounded by Timeout and
// gives the Stalled sentinel; a read with nothing buffered (an idle
// connection) is not bounded, and the deadline armed before is cleared.
func TestStallReader(t *testing.T) {
	errStalled := errors.New("stalled")
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	buffered := 0
	g := &StallReader{Conn: a, Buffered: func() int { return buffered }, Timeout: 30 * time.Millisecond, Stalled: errStalled}
	buf := make([]byte, 8)

	// Idle: nothing buffered, the peer speaks after three times the bound.
	go func() {
		time.Sleep(90 * time.Millisecond)
		_, _ = b.Write([]byte("x"))
	}()
	if n, err := g.Read(buf); n != 1 || err != nil {
		t.Fatalf("idle read: %d, %v (an idle connection must not be cut)", n, err)
	}

	// Mid-message: the rest never comes.
	buffered = 1
	start := time.Now()
	_, err := g.Read(buf)
	if !errors.Is(err, errStalled) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled read: %v, want the Stalled sentinel", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stalled read took %v, bound 30ms", d)
	}

	// The message ended: the armed deadline is cleared before the next read.
	buffered = 0
	go func() {
		time.Sleep(90 * time.Millisecond)
		_, _ = b.Write([]byte("y"))
	}()
	if n, err := g.Read(buf); n != 1 || err != nil {
		t.Fatalf("read after the message ended: %d, %v (deadline not cleared)", n, err)
	}
}
