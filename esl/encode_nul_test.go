package esl

import (
	"errors"
	"strings"
	"testing"
)

// FreeSWITCH keeps commands, headers and bodies as C strings: a NUL would
// cut a value short, unseen, so it is refused like CR/LF, in a short
// argument, a long one (sent as a body) and the password.
func TestValidateValueRefusesNUL(t *testing.T) {
	for _, s := range []string{"api status\x00 x", strings.Repeat("a", longArgThreshold+1) + "\x00"} {
		if err := ValidateValue(s); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("ValidateValue(%.20q…) = %v, want ErrInvalidValue", s, err)
		}
	}
	if err := checkPassword("Clue\x00Con"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("checkPassword(NUL) = %v, want ErrInvalidValue", err)
	}
}
