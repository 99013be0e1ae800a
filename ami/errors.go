package ami

import (
	"errors"
	"strings"
)

// Sentinel errors. Callers branch on them with errors.Is. The names are
// esl's where the meaning is the same.
var (
	// ErrClosed reports that the connection is closed (by us, after Logoff,
	// or because it failed; Err tells which).
	ErrClosed = errors.New("ami: connection closed")
	// ErrFrameTooLarge reports a message larger than the configured maximum
	// frame size; the connection that produced it is closed.
	ErrFrameTooLarge = errors.New("ami: frame too large")
	// ErrMalformed reports bytes that are not a valid AMI message (a header
	// line without a name, a missing banner).
	ErrMalformed = errors.New("ami: malformed message")
	// ErrUnexpectedMessage reports a well-framed message the protocol state
	// does not allow (a reply to Login that is neither Success nor Error).
	ErrUnexpectedMessage = errors.New("ami: unexpected message")
	// ErrInvalidValue reports a header name or value that cannot be put on
	// the wire (CR or LF would inject headers or actions, a colon in a
	// name, an odd name/value list). Nothing was written when it is
	// returned.
	ErrInvalidValue = errors.New("ami: invalid value")
	// ErrAuth reports that Asterisk rejected the username or secret (it
	// answers after a 1 s delay and closes the connection).
	ErrAuth = errors.New("ami: authentication failed")
	// ErrAction is matched (errors.Is) by every *ResponseError.
	ErrAction = errors.New("ami: action failed")
	// ErrStalled reports a peer that stopped in the middle of a message for
	// longer than Config.StallTimeout; the connection is closed.
	ErrStalled = errors.New("ami: peer stalled mid-message")
	// ErrQueueOverflow reports that a subscriber left more events undrained
	// than the hard cap allows; that subscription is closed.
	ErrQueueOverflow = errors.New("ami: event queue overflow")
	// ErrInternal reports a bug of this package met while reading one
	// connection (a panic in the reader): that connection is closed, with
	// the panic and its stack logged, and the process goes on.
	ErrInternal = errors.New("ami: internal error")
	// ErrTimeout reports that an action got no reply before its deadline
	// (the connection's default action timeout when the context had none),
	// or that a keepalive Ping went unanswered.
	ErrTimeout = errors.New("ami: no reply before the deadline")
)

// ResponseError is a `Response: Error` (or Failure) answer to an action.
// It never holds the action's headers, so a secret cannot leak through it.
type ResponseError struct {
	// Action is the action name, e.g. "Originate".
	Action string
	// Response is the Response header, "Error" for nearly every failure.
	Response string
	// Message is the Message header, e.g. "Extension does not exist." (the
	// first one; trailing newlines Asterisk sometimes adds are dropped).
	Message string
}

func (e *ResponseError) Error() string {
	msg := strings.TrimRight(e.Message, "\r\n")
	if msg == "" {
		return "ami: " + e.Action + ": " + e.Response
	}
	return "ami: " + e.Action + ": " + msg
}

// Is makes errors.Is(err, ErrAction) true for every *ResponseError.
func (e *ResponseError) Is(target error) bool { return target == ErrAction }
