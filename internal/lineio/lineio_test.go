package lineio_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/internal/lineio"
)

var errLong = errors.New("line too long")

func TestReadLine(t *testing.T) {
	// A 16-byte bufio buffer makes the 40-byte line arrive in pieces.
	long := strings.Repeat("x", 40)
	r := bufio.NewReaderSize(strings.NewReader("Action: Ping\r\nplain\n"+long+"\n"+strings.Repeat("y", 65)+"\n"), 16)
	for _, want := range []string{"Action: Ping", "plain", long} {
		got, err := lineio.ReadLine(r, 64, errLong)
		if err != nil || got != want {
			t.Fatalf("ReadLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := lineio.ReadLine(r, 64, errLong); !errors.Is(err, errLong) {
		t.Fatalf("65-byte line with max 64: err = %v, want errLong", err)
	}
	if _, err := lineio.ReadLine(bufio.NewReader(strings.NewReader("")), 64, errLong); err != io.EOF {
		t.Fatalf("empty input: err = %v, want io.EOF", err)
	}
}

func ExampleReadLine() {
	r := bufio.NewReader(strings.NewReader("auth ClueCon\r\n\r\n"))
	for {
		line, err := lineio.ReadLine(r, 1024, errLong)
		if err != nil {
			break
		}
		fmt.Printf("%q\n", line)
	}
	// Output:
	// "auth ClueCon"
	// ""
}
