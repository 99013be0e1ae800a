package amidial_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fsivr/fsivr/ami"
	"github.com/fsivr/fsivr/ami/amitest"
	"github.com/fsivr/fsivr/dialer"
	"github.com/fsivr/fsivr/dialer/amidial"
)

// One attempt over AMI against the fake Asterisk: Local/200 is busy.
func Example() {
	srv := amitest.NewServer(amitest.Config{})
	defer srv.Close()
	b := amidial.New(amidial.Config{Addr: srv.Addr, Username: "dialer", Secret: "secret", Logger: quiet(),
		AMI: ami.Config{Logger: quiet()}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = b.Run(ctx) }()
	<-b.Ready()
	out, err := b.Originate(ctx, dialer.Call{
		AttemptID: "attempt-1", Campaign: "demo", ContactID: "c1", Channel: "Local/200@test",
		Answer: dialer.Answer{Context: "test", Exten: "100"}, Timeout: 5 * time.Second,
	})
	fmt.Println(out.Disposition, "reason", out.Reason, "cause", out.Cause, err)
	// Output: busy reason 5 cause 17 <nil>
}
