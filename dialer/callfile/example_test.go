package callfile_test

import (
	"fmt"
	"time"

	"github.com/fsivr/fsivr/dialer/callfile"
)

func ExampleFile_Encode() {
	f := callfile.File{
		Channel: "PJSIP/18882223333@trunk", CallerIDName: "Clinic", CallerIDNumber: "1234",
		WaitTime: 30 * time.Second, Context: "notify", Extension: "s", Priority: "1",
		Set: [][2]string{{"CALLID", "0b6c1f8e"}}, Archive: true,
	}
	b, err := f.Encode()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(b))

	f.Set = [][2]string{{"CALLID", "x\nApplication: System"}}
	_, err = f.Encode()
	fmt.Println(err != nil)
	// Output:
	// Channel: PJSIP/18882223333@trunk
	// CallerID: "Clinic" <1234>
	// MaxRetries: 0
	// WaitTime: 30
	// Context: notify
	// Extension: s
	// Priority: 1
	// Set: CALLID=0b6c1f8e
	// Archive: yes
	// true
}
