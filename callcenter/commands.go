package callcenter

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Errors of the commands; the HTTP handler maps them to status codes.
var (
	// ErrNotConnected: the AMI link is down, the command was not sent.
	ErrNotConnected = errors.New("callcenter: not connected to Asterisk")
	// ErrNoCall: the agent is on no call the model knows of.
	ErrNoCall = errors.New("callcenter: agent is on no call")
	// ErrInvalid: a request field is missing or not allowed on the wire.
	ErrInvalid = errors.New("callcenter: invalid request")
)

// RefusedError is Asterisk's own refusal of a command, with its wording
// ("Unable to add interface: Already there", "Interface not found",
// "No such channel", "Channel does not exist: …").
type RefusedError struct {
	Action  string
	Message string
}

func (e *RefusedError) Error() string { return "asterisk refused " + e.Action + ": " + e.Message }

// OriginateRequest is originate-call: ring the agent's phone, then, when
// the agent answers, dial Number.
type OriginateRequest struct {
	Agent    string `json:"agent"`
	Number   string `json:"number"`
	CallerID string `json:"callerId,omitempty"`
}

// RedirectRequest is redirect-call: send the party on the agent's call to
// Exten (in Context, or the configured default).
type RedirectRequest struct {
	Agent   string `json:"agent"`
	Exten   string `json:"exten"`
	Context string `json:"context,omitempty"`
}

// ParkRequest is park-and-announce: park the party on the agent's call and
// let the agent hear the parking space.
type ParkRequest struct {
	Agent string `json:"agent"`
}

// Queue actions.
const (
	QueueAdd     = "add"
	QueueRemove  = "remove"
	QueuePause   = "pause"
	QueueUnpause = "unpause"
)

// QueueActionRequest is queue-action: add (log on, with the agent's name),
// remove (log off), pause (with a reason) or unpause.
type QueueActionRequest struct {
	Action string `json:"action"`
	Agent  string `json:"agent"`
	Queue  string `json:"queue"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Commander runs the commands; Service implements it over AMI.
type Commander interface {
	// OriginateCall returns the actionId an originateFailed event would
	// carry; owner (the token name) is who gets that event.
	OriginateCall(ctx context.Context, owner string, req OriginateRequest) (actionID string, err error)
	RedirectCall(ctx context.Context, req RedirectRequest) error
	ParkAndAnnounce(ctx context.Context, req ParkRequest) error
	QueueAction(ctx context.Context, req QueueActionRequest) error
}

// checkValue validates free text that reaches an AMI header (a reason, a
// name, a caller id): no CR/LF or NUL, at most max bytes.
func checkValue(field, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, field, max)
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%w: %s contains a line break", ErrInvalid, field)
	}
	return nil
}

// checkNumber validates a number to dial: digits, and + * # only.
func checkNumber(n string) error {
	if n == "" || len(n) > 32 {
		return fmt.Errorf("%w: number empty or longer than 32", ErrInvalid)
	}
	for _, r := range n {
		if !(r >= '0' && r <= '9' || r == '+' || r == '*' || r == '#') {
			return fmt.Errorf("%w: number %q: only digits, + * #", ErrInvalid, clip(n))
		}
	}
	return nil
}

// checkDialAgent validates an agent that goes into a dial-string template
// (AgentChannel, MemberInterface, StateInterface: "Local/%s@agent"): an
// extension's characters only. '@' or '/' would pick another context or
// options, '&' another channel, '$' '(' '{' an expansion.
func checkDialAgent(a string) error {
	if err := CheckName(a); err != nil {
		return fmt.Errorf("%w: agent: %w", ErrInvalid, err)
	}
	for _, r := range a {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("_-.+*#", r)) {
			return fmt.Errorf("%w: agent %q: only letters, digits and _ - . + * # go into a dial string", ErrInvalid, clip(a))
		}
	}
	return nil
}

func (r *OriginateRequest) check() error {
	if err := checkDialAgent(r.Agent); err != nil {
		return err
	}
	if err := checkNumber(r.Number); err != nil {
		return err
	}
	return checkValue("callerId", r.CallerID, 80)
}

func (r *RedirectRequest) check() error {
	if err := CheckName(r.Agent); err != nil {
		return fmt.Errorf("%w: agent: %w", ErrInvalid, err)
	}
	if err := CheckName(r.Exten); err != nil {
		return fmt.Errorf("%w: exten: %w", ErrInvalid, err)
	}
	if r.Context != "" {
		if err := CheckName(r.Context); err != nil {
			return fmt.Errorf("%w: context: %w", ErrInvalid, err)
		}
	}
	return nil
}

func (r *ParkRequest) check() error {
	if err := CheckName(r.Agent); err != nil {
		return fmt.Errorf("%w: agent: %w", ErrInvalid, err)
	}
	return nil
}

func (r *QueueActionRequest) check() error {
	switch r.Action {
	case QueueAdd, QueueRemove, QueuePause, QueueUnpause:
	default:
		return fmt.Errorf("%w: action must be add, remove, pause or unpause", ErrInvalid)
	}
	if err := checkDialAgent(r.Agent); err != nil {
		return err
	}
	if err := CheckName(r.Queue); err != nil {
		return fmt.Errorf("%w: queue: %w", ErrInvalid, err)
	}
	if err := checkValue("name", r.Name, 80); err != nil {
		return err
	}
	return checkValue("reason", r.Reason, 80)
}
