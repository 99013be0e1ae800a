package ivr

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/fsivr/fsivr/esl"
)

// handoverGrace is how long after the drain bound the sessions have to hand
// their calls over before the remaining sockets are closed.
const handoverGrace = 2 * time.Second

// ServeOptions configure Serve.
type ServeOptions struct {
	Allow        []netip.Prefix // peers allowed to connect; empty = anyone
	DrainTimeout time.Duration  // on ctx done: how long running calls may go on
	// Fallback is the transfer ("<dest> <dialplan> <context>") that a call
	// still in its flow gets at DrainTimeout when its flow has none.
	Fallback string
	Logger   *slog.Logger
	// ConnDone, if set, receives each call's connection statistics when
	// its session has ended (the load tool reports the deepest mailbox).
	ConnDone func(esl.Stats)
}

// connEnded counts a finished connection's statistics. It is apart from
// the handler so that the handler's frame, which stays on the stack of a
// parked call, is small (see Engine.handle).
//
//go:noinline
func (e *Engine) connEnded(c *esl.OutboundConn, done func(esl.Stats)) {
	st := c.Stats()
	e.metrics.connEnded(st)
	if done != nil {
		done(st)
	}
}

// Serve accepts FreeSWITCH's outbound socket connections on ln and runs a
// Session for each until ctx is done. Then it stops accepting, lets running
// calls finish for up to DrainTimeout, and releases the rest to the
// dialplan (closing a socket makes FreeSWITCH continue with the action after
// `socket`, the fallback transfer).
func (e *Engine) Serve(ctx context.Context, ln net.Listener, opts ServeOptions) error {
	logger := opts.Logger
	if logger == nil {
		logger = e.logger
	}
	d := &drain{started: make(chan struct{}), handover: make(chan struct{}), fallback: opts.Fallback}
	srv := esl.NewServer(func(hctx context.Context, c *esl.OutboundConn) {
		e.handle(hctx, c, d)
		e.connEnded(c, opts.ConnDone)
	})
	srv.Allow = opts.Allow
	srv.Logger = logger
	errc := make(chan error, 1)
	// Serve gets a context of its own: ctx ending starts a drain, it must not
	// cut the listener's running calls.
	go func() { errc <- srv.Serve(context.WithoutCancel(ctx), ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("draining calls", "bound", opts.DrainTimeout.String())
	// Calls that already left their flow end now; at the bound the others
	// are handed to their fallback, and handoverGrace later any socket
	// still open is closed.
	close(d.started)
	handover := time.AfterFunc(opts.DrainTimeout, func() { close(d.handover) })
	defer handover.Stop()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.DrainTimeout+handoverGrace)
	defer cancel()
	err := srv.Shutdown(dctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Shutdown closed the remaining sockets: FreeSWITCH continues those
		// calls with the dialplan's fallback after the socket action.
		logger.Warn("drain bound reached; remaining calls released to the dialplan")
		err = nil
	}
	<-errc
	return err
}
