package netctx_test

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/fsivr/fsivr/internal/netctx"
)

func ExampleWrite() {
	client, server := net.Pipe() // nobody reads server: a write blocks
	defer client.Close()
	defer server.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // e.g. the call hung up
	err := netctx.Write(ctx, client, []byte("api status\n\n"))
	fmt.Println(errors.Is(err, context.Canceled))
	// Output:
	// true
}
