package mailbox_test

import (
	"fmt"

	"github.com/fsivr/fsivr/internal/mailbox"
)

func Example() {
	mb := mailbox.New[string](mailbox.Limits{HighWater: 2, Max: 10})
	for _, ev := range []string{"CHANNEL_EXECUTE", "DTMF", "CHANNEL_EXECUTE_COMPLETE"} {
		crossed, err := mb.Put(ev) // the reader goroutine: never blocks
		if err != nil {
			fmt.Println("close the connection:", err)
			return
		}
		if crossed {
			fmt.Println("warning: owner is not draining, depth", mb.Len())
		}
	}
	<-mb.Notify() // the owner goroutine
	fmt.Println(mb.Drain(nil))
	// Output:
	// warning: owner is not draining, depth 3
	// [CHANNEL_EXECUTE DTMF CHANNEL_EXECUTE_COMPLETE]
}
