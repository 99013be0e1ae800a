package backendtest_test

import (
	"fmt"

	"github.com/fsivr/fsivr/dialer/backendtest"
)

// The shared table every backend is held to.
func Example() {
	for _, row := range backendtest.Table {
		fmt.Println(row.Outcome, "->", row.Want)
	}
	// Output:
	// answered -> answered
	// busy -> busy
	// no_answer -> no_answer
	// congestion -> congestion
	// rejected -> rejected
	// invalid_number -> invalid_number
}
