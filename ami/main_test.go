package ami

import (
	"testing"

	"go.uber.org/goleak"
)

// Every reader, keepalive and fake goroutine is gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
