package netctx

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		buf := make([]byte, 5)
		_, _ = b.Read(buf)
	}()
	if err := Write(context.Background(), a, []byte("hello")); err != nil {
		t.Fatalf("Write: %v", err)
	}

	// Nobody reads b any more: a canceled context ends the blocked write.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Write(ctx, a, []byte("stuck")) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Write: %v, want context.Canceled", err)
	}

	// A deadline in the context becomes the write deadline.
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer dcancel()
	if err := Write(dctx, a, []byte("stuck")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write past the deadline: %v, want context.DeadlineExceeded", err)
	}

	// The deadline is cleared afterwards: a later write waits for a reader.
	go func() {
		time.Sleep(30 * time.Millisecond)
		buf := make([]byte, 16)
		_, _ = b.Read(buf)
	}()
	if err := Write(context.Background(), a, []byte("later")); err != nil {
		t.Errorf("Write after a timed-out one: %v", err)
	}
}
