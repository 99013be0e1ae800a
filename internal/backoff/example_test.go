package backoff_test

import (
	"fmt"
	"time"

	"github.com/fsivr/fsivr/internal/backoff"
)

func ExamplePolicy_Step() {
	p := backoff.Policy{Min: 100 * time.Millisecond, Max: time.Second}
	for attempt := range 6 {
		// Delay(attempt) waits a random time in [Step/2, Step].
		fmt.Println(attempt, p.Step(attempt))
	}
	// Output:
	// 0 100ms
	// 1 200ms
	// 2 400ms
	// 3 800ms
	// 4 1s
	// 5 1s
}
