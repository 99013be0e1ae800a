package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fsivr/fsivr/flows"
)

// A wrapped invalid-flow error still exits 1 (a type assertion on the
// outer error would not see it).
func TestExitCodeOfWrappedInvalidFlow(t *testing.T) {
	_, err := flows.Parse("x.yaml", []byte("name: x\n"), flows.Options{SkipPromptCheck: true})
	if !errors.Is(err, flows.ErrInvalid) {
		t.Fatalf("parse: %v", err)
	}
	if got := exitCode(fmt.Errorf("validate flows/: %w", err)); got != 1 {
		t.Fatalf("exit %d, want 1", got)
	}
	if got := exitCode(errors.New("read flows/: permission denied")); got != 2 {
		t.Fatalf("exit %d, want 2", got)
	}
}
