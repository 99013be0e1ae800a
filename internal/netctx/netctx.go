// Package netctx bounds blocking socket calls, for the protocol
// connections of esl and ami: a write must give up when its caller's
// context ends (Write), a read must give up when a peer stops in the
// middle of a message (StallReader), and net.Conn only knows deadlines.
package netctx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Write writes p to nc, giving up when ctx ends (its deadline becomes the
// write deadline, its cancellation an immediate one). The write deadline
// is cleared before Write returns. An error after ctx ended wraps both
// ctx.Err() and the socket's error; the stream is then in an unknown state
// and the caller should close nc.
func Write(ctx context.Context, nc net.Conn, p []byte) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetWriteDeadline(dl)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = nc.SetWriteDeadline(time.Unix(1, 0)) // in the past: Write returns now
		close(fired)
	})
	_, err := nc.Write(p)
	if !stop() {
		<-fired // the deadline was moved; wait so the reset below wins
	}
	_ = nc.SetWriteDeadline(time.Time{})
	if err != nil {
		ctxErr := ctx.Err()
		if dl, ok := ctx.Deadline(); ctxErr == nil && ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
			// The socket's deadline (ctx's) can fire before ctx's own
			// timer has marked it done.
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil {
			return fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return err
	}
	return nil
}
