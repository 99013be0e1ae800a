package amitest_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"

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
