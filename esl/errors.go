package esl

import (
	"errors"
	"strings"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrHangup reports that the controlled channel has hung up: nothing more
	// can be executed on it.
	ErrHangup = errors.New("esl: channel hung up")
	// ErrClosed reports that the connection is closed (by us, by a disconnect
	// notice from FreeSWITCH, or because it failed; Err tells which).
	ErrClosed = errors.New("esl: connection closed")
	// ErrFrameTooLarge reports a message larger than the configured maximum
	// frame size; the connection that produced it is closed.
	ErrFrameTooLarge = errors.New("esl: frame too large")
	// ErrMalformed reports bytes that are not a valid ESL message.
	ErrMalformed = errors.New("esl: malformed message")
	// ErrUnexpectedMessage reports a well-framed message the protocol state
	// does not allow (unknown Content-Type, a reply nobody waits for, ...).
	ErrUnexpectedMessage = errors.New("esl: unexpected message")
	// ErrInvalidValue reports a value that cannot be put on the wire (it
	// contains CR or LF and would inject headers or commands). Nothing was
	// written when it is returned.
	ErrInvalidValue = errors.New("esl: invalid value")
	// ErrAuth reports that FreeSWITCH rejected the event socket password.
	ErrAuth = errors.New("esl: authentication failed")
	// ErrCommand is matched (errors.Is) by every *ReplyError.
	ErrCommand = errors.New("esl: command failed")
	// ErrStalled reports a peer that stopped in the middle of a message for
	// longer than Config.StallTimeout; the connection is closed.
	ErrStalled = errors.New("esl: peer stalled mid-message")
	// ErrQueueOverflow reports that the owner left more events undrained than
	// the hard cap allows; the connection is closed.
	ErrQueueOverflow = errors.New("esl: event queue overflow")
	// ErrInternal reports a bug of this package met while reading one
	// connection (a panic in the reader): that connection is closed, with
	// the panic and its stack logged, and the process goes on.
	ErrInternal = errors.New("esl: internal error")
)

// ReplyError is a "-ERR ..." answer from FreeSWITCH, to a command
// (command/reply Reply-Text), an api call (api/response body) or a
// background job (BACKGROUND_JOB body).
type ReplyError struct {
	// Command is the command line that failed (without headers or body).
	Command string
	// Reply is the full reply text, e.g. "-ERR invalid session id [x]".
	Reply string
}

func (e *ReplyError) Error() string {
	return "esl: " + e.Command + ": " + strings.TrimRight(e.Reply, "\n")
}

// Is makes errors.Is(err, ErrCommand) true for every *ReplyError.
func (e *ReplyError) Is(target error) bool { return target == ErrCommand }

// Reason is the reply without its "-ERR " prefix and trailing newline,
// e.g. "NO_ROUTE_DESTINATION" for a failed originate.
func (e *ReplyError) Reason() string {
	r := strings.TrimRight(e.Reply, "\n")
	r = strings.TrimPrefix(r, "-ERR")
	return strings.TrimSpace(r)
}
