package dialer

import (
	"context"
	"errors"
	"time"
)

// Call is one attempt as a backend sees it. AttemptID is written to the
// store before Originate is called; the backend carries it on the call (AMI
// ChannelId and a channel variable, FreeSWITCH origination_uuid, the call
// file's name) so the attempt can be found again after a crash.
type Call struct {
	AttemptID string
	Campaign  string
	ContactID string
	Number    string // E.164
	Trunk     string
	Channel   string // the trunk's dial string with the number substituted
	CallerID  string
	Answer    Answer
	Timeout   time.Duration // ring timeout
	Vars      map[string]string
}

// Outcome is the final result of one attempt.
type Outcome struct {
	Disposition Disposition
	// Reason is the backend's own result code (AMI OriginateResponse
	// Reason, call-file Status), Cause its hangup cause ("17", "USER_BUSY").
	Reason string
	Cause  string
	// Answered is when the call was answered (zero if never).
	Answered time.Time
	// Ended is when the call ended; zero = when Originate returned.
	Ended time.Time
	// Vars are values the call reported back (e.g. notify_result).
	Vars map[string]string
}

// Backend places calls. It is deliberately small: one blocking method per
// attempt, so a port is freed exactly when the attempt's final outcome
// arrives from the backend's tracker (never by polling).
type Backend interface {
	// Originate places c and returns when it is over (hung up, failed, or
	// never started). An error wrapping ErrNotPlaced means provably nothing
	// reached the trunk (the contact is dialed again, the attempt does not
	// count); any other error means the outcome is unknown (Unknown, never
	// re-dialed automatically). Cancelling ctx stops waiting for the
	// outcome; it does not hang the call up.
	Originate(ctx context.Context, c Call) (Outcome, error)
}

// ErrNotPlaced is wrapped by a Backend's error when the call provably never
// reached the trunk (not connected, the originate refused before sending).
var ErrNotPlaced = errors.New("dialer: call not placed")

// ErrNotConnected is what a backend returns while it has no connection to
// its switch. It is an ErrNotPlaced (the contact is dialed again). The
// engine records "not connected" as the attempt's reason; the text of any
// other backend error is logged, never recorded (see backendReason).
var ErrNotConnected error = notConnectedError{}

type notConnectedError struct{}

func (notConnectedError) Error() string { return "not connected" }
func (notConnectedError) Unwrap() error { return ErrNotPlaced }

// State is what a Reconciler found about an attempt.
type State int

// Reconciliation states.
const (
	// StateUnknown: the backend cannot tell (the outcome is lost).
	StateUnknown State = iota
	// StateNeverStarted: the backend proves the attempt never reached the
	// trunk; it is dialed again without counting.
	StateNeverStarted
	// StateLive: the call still exists; its lease is kept and it is checked
	// again later.
	StateLive
	// StateEnded: the call ended; the Outcome says how.
	StateEnded
)

func (s State) String() string {
	switch s {
	case StateNeverStarted:
		return "never_started"
	case StateLive:
		return "live"
	case StateEnded:
		return "ended"
	}
	return "unknown"
}

// Reconciler is an optional interface of a Backend (the way raft's
// transports offer optional interfaces): after a crash the engine asks it
// about attempts whose record exists but whose outcome was never stored
// (AMI: Status/CoreShowChannels by ChannelId or the outcome events seen;
// FreeSWITCH: uuid_exists). Without it such attempts end as Unknown.
type Reconciler interface {
	Reconcile(ctx context.Context, c Call) (State, Outcome, error)
}

// Pinger is an optional interface of a Backend: the preflight's "trunk
// reachable" check.
type Pinger interface {
	Ping(ctx context.Context) error
}
