package capture_test

import (
	"bufio"
	"fmt"

	"github.com/fsivr/fsivr/internal/capture"
)

func ExampleChunking_Reader() {
	data := []byte("Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK accepted\n\n")
	for _, c := range capture.Chunkings() {
		// A line reader sees the same lines however the bytes are cut.
		sc := bufio.NewScanner(c.Reader(data))
		n := 0
		for sc.Scan() {
			n++
		}
		fmt.Println(c.Name, n)
	}
	// Output:
	// whole 5
	// 1byte 5
	// 7bytes 5
	// random 5
}
