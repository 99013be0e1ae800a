package amitest_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
)

// A test starts the fake, points its client at Addr and reads what the fake
// recorded.
func Example() {
	srv := amitest.NewServer(amitest.Config{})
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	banner, _ := r.ReadString('\n')
	fmt.Print(strings.TrimRight(banner, "\r\n"), "\n")

	fmt.Fprint(conn, "Action: Login\r\nActionID: l1\r\nUsername: dialer\r\nSecret: secret\r\nEvents: off\r\n\r\n")
	for {
		line, _ := r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		fmt.Println(line)
	}
	fmt.Println(len(srv.ActionsNamed("Login")), "Login recorded")
	// Output:
	// Asterisk Call Manager/11.0.0
	// Response: Success
	// ActionID: l1
	// Message: Authentication accepted
	// 1 Login recorded
}

// A test scripts each Originate's outcome from what was sent, here by the
// dial string, with one of the captured event orders.
func ExampleConfig_outcome() {
	srv := amitest.NewServer(amitest.Config{
		Outcome: func(o amitest.Originate) amitest.Outcome {
			if strings.HasPrefix(o.Channel, "Local/555") {
				return amitest.Outcome{Kind: amitest.Busy, Order: amitest.Orders(amitest.Busy)[0]}
			}
			return amitest.Outcome{Kind: amitest.Answered, Talk: 50 * time.Millisecond}
		},
	})
	defer srv.Close()
	fmt.Println(amitest.Busy, amitest.Busy.Reason())
	fmt.Println(len(amitest.Orders(amitest.Busy)), "busy orderings observed")
	// Output:
	// busy 5
	// 10 busy orderings observed
}
