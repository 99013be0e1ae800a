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

// ServeOptions configure Serve.
type ServeOptions struct {
	Allow        []netip.Prefix // peers allowed to connect; empty = anyone
	DrainTimeout time.Duration  // on ctx done: how long running calls may go on
	Logger       *slog.Logger
	// ConnDone, if set, receives each call's connection statistics when
	// its session has ended (the load tool reports the deepest mailbox).
	ConnDone func(esl.Stats)
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
	srv := esl.NewServer(func(hctx context.Context, c *esl.OutboundConn) {
		e.Handle(hctx, c)
		if opts.ConnDone != nil {
			opts.ConnDone(c.Stats())
		}
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
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.DrainTimeout)
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
