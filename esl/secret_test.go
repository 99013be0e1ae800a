package esl

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// A password that cannot go on the wire is refused without being quoted:
// the error reaches logs (the Reconnector's, the dialer's).
func TestBadPasswordNotInError(t *testing.T) {
	const password = "hunter2-s3cret\nevent plain ALL"
	ctx := testCtx(t)
	_, err := Dial(ctx, "127.0.0.1:1", password)
	if !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("Dial: %v, want ErrInvalidValue", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Dial's error shows the password: %v", err)
	}
	a, b := net.Pipe()
	defer b.Close()
	d := Dialer{Password: password}
	_, err = d.NewClient(ctx, a)
	if !errors.Is(err, ErrInvalidValue) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("NewClient: %v, want ErrInvalidValue without the password", err)
	}
}
