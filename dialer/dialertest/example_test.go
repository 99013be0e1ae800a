package dialertest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/dialertest"
)

// The fake answers as scripted and keeps its own record of each call.
func Example() {
	b := dialertest.New(nil, func(c dialer.Call, n int) dialertest.Step {
		if n == 0 {
			return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Busy}}
		}
		return dialertest.Step{Outcome: dialer.Outcome{Disposition: dialer.Answered}, Delay: time.Millisecond}
	})
	ctx := context.Background()
	for range 2 {
		out, _ := b.Originate(ctx, dialer.Call{AttemptID: dialer.NewID(), Number: "+12125550100", Trunk: "t"})
		fmt.Println(out.Disposition)
	}
	fmt.Println(len(b.Originates()), "originates, at most", b.MaxInFlight("t"), "in flight")
	// Output:
	// busy
	// answered
	// 2 originates, at most 1 in flight
}
