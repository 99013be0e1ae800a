package ami

import (
	"errors"
	"testing"
)

// Asterisk keeps a header value as a C string: a NUL would end it there
// and the rest be dropped unseen, so such a value is refused like CR/LF.
func TestEncodeRefusesNUL(t *testing.T) {
	if b, err := EncodeAction("Setvar", "p-1", "Variable", "NOTE", "Value", "call back\x00 later"); !errors.Is(err, ErrInvalidValue) || b != nil {
		t.Errorf("EncodeAction with a NUL = %q, %v; want ErrInvalidValue", b, err)
	}
	if err := ValidateValue("a\x00"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("ValidateValue(NUL) = %v", err)
	}
}
