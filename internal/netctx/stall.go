package netctx

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// StallReader is the read side of a protocol connection that bounds how
// long a message may take once its first bytes have arrived: a peer that
// stops in the middle of a frame would otherwise hold the connection (and
// whatever waits on it) forever. The framing reader on top only reads
// while the message it is framing is incomplete, so bytes it has buffered
// when it calls Read mean a message is under way; the read deadline is set
// when one starts and cleared when none is, so an idle connection (a long
// prompt, a quiet manager session) is never cut.
//
// Set Conn and Stalled, then Buffered once the framing reader exists, and
// Timeout when the bound should start to apply (after a handshake that
// has its own). A StallReader is not safe for concurrent use: it belongs
// to the connection's one reader goroutine.
type StallReader struct {
	Conn net.Conn
	// Buffered reports the bytes of the current, incomplete message the
	// framing reader holds.
	Buffered func() int
	// Timeout is the bound; <= 0 turns it off.
	Timeout time.Duration
	// Stalled is the sentinel a stall error wraps (esl.ErrStalled,
	// ami.ErrStalled).
	Stalled error

	armed bool
}

// Read reads from Conn, arming or clearing the read deadline first. A
// deadline it armed that expires gives an error wrapping Stalled and
// os.ErrDeadlineExceeded.
func (g *StallReader) Read(p []byte) (int, error) {
	if g.Timeout > 0 && g.Buffered != nil {
		switch partial := g.Buffered() > 0; {
		case partial && !g.armed:
			_ = g.Conn.SetReadDeadline(time.Now().Add(g.Timeout))
			g.armed = true
		case !partial && g.armed:
			_ = g.Conn.SetReadDeadline(time.Time{})
			g.armed = false
		}
	}
	n, err := g.Conn.Read(p)
	if err != nil && g.armed && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w: message incomplete %v after its first bytes (%d buffered): %w", g.Stalled, g.Timeout, g.Buffered(), err)
	}
	return n, err
}
