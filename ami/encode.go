package ami

import (
	"fmt"
	"strings"
)

// ValidateValue reports whether s can be put into an AMI header value: a
// CR or LF would end the line and let the rest be read as further headers
// or a further action, and Asterisk keeps a header as a C string, so a NUL
// would cut the value short; such values give ErrInvalidValue.
func ValidateValue(s string) error {
	if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("%w: CR/LF or NUL in a header value", ErrInvalidValue)
	}
	return nil
}

// validateName checks a header name: non-empty, no colon, CR, LF or space.
func validateName(s string) error {
	if s == "" || strings.ContainsAny(s, ":\r\n \t") {
		return fmt.Errorf("%w: header name %.40q", ErrInvalidValue, s)
	}
	return nil
}

// MaxLineLength is the longest header line ("Name: value", without CRLF)
// an action may carry. Asterisk reads a manager request into a 1,025-byte
// line buffer (mansession inbuf in main/manager.c) and drops a longer line
// as "too long", so such a value is refused here instead of being lost.
const MaxLineLength = 1022

// validateAction checks an action name and its header pairs before
// anything is written. ActionID is ours to set.
func validateAction(action string, headers []string) error {
	if err := validateName(action); err != nil {
		return fmt.Errorf("action name: %w", err)
	}
	if len(headers)%2 != 0 {
		return fmt.Errorf("%w: %s: odd header list (want name, value pairs)", ErrInvalidValue, action)
	}
	for i := 0; i < len(headers); i += 2 {
		if err := validateName(headers[i]); err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		if strings.EqualFold(headers[i], "ActionID") || strings.EqualFold(headers[i], "Action") {
			return fmt.Errorf("%w: %s: header %s is set by the connection", ErrInvalidValue, action, headers[i])
		}
		if err := ValidateValue(headers[i+1]); err != nil {
			// The value is not quoted: it may be a secret.
			return fmt.Errorf("%s: header %s: %w", action, headers[i], err)
		}
		if n := len(headers[i]) + 2 + len(headers[i+1]); n > MaxLineLength {
			return fmt.Errorf("%w: %s: header %s is %d bytes, Asterisk reads at most %d", ErrInvalidValue, action, headers[i], n, MaxLineLength)
		}
	}
	return nil
}

// appendAction encodes an action with CRLF line ends, as Asterisk sends
// and expects. Callers validate first.
func appendAction(dst []byte, action, actionID string, headers ...string) []byte {
	dst = append(dst, "Action: "...)
	dst = append(dst, action...)
	dst = append(dst, "\r\nActionID: "...)
	dst = append(dst, actionID...)
	for i := 0; i+1 < len(headers); i += 2 {
		dst = append(dst, "\r\n"...)
		dst = append(dst, headers[i]...)
		dst = append(dst, ": "...)
		dst = append(dst, headers[i+1]...)
	}
	return append(dst, "\r\n\r\n"...)
}

// EncodeAction validates and encodes an action (tests, fakes and tools
// that write actions themselves use it): "Action: <action>", "ActionID:
// <actionID>" and the header pairs. Any invalid name or value gives
// ErrInvalidValue and no bytes.
func EncodeAction(action, actionID string, headers ...string) ([]byte, error) {
	if err := validateAction(action, headers); err != nil {
		return nil, err
	}
	if err := ValidateValue(actionID); err != nil {
		return nil, err
	}
	return appendAction(nil, action, actionID, headers...), nil
}
