package crm_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/crm"
)

func TestConfigErrorsNeverShowThePassword(t *testing.T) {
	for _, base := range []string{"ftp://ops:s3cret@crm.example", "http://ops:s3cret@"} {
		_, err := crm.New(crm.Config{BaseURL: base}, nil, nil)
		if err == nil {
			t.Fatalf("%s accepted", base)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

// Callers that must not import crm tell "unknown caller" apart by behaviour.
func TestNotFoundIsRecognisableWithoutImportingCRM(t *testing.T) {
	var nf interface{ NotFound() bool }
	err := fmt.Errorf("prefetch: %w", crm.ErrBadCallerID)
	if !errors.As(err, &nf) || !nf.NotFound() || !errors.Is(err, crm.ErrNotFound) {
		t.Fatalf("not-found not recognisable: %v", err)
	}
	if errors.As(fmt.Errorf("x: %w", crm.ErrUnavailable), &nf) {
		t.Fatal("unavailable taken for not found")
	}
}
