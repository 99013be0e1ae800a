// Package lineio reads one protocol line of bounded length, the way both
// fake peers (esl/esltest and ami/amitest) read their clients' commands:
// a line of any length is assembled from bufio's pieces, a trailing CR is
// dropped, and a line longer than the bound is an error the caller names,
// so a client that never sends a newline cannot make the fake grow without
// bound.
package lineio

import (
	"bufio"
	"strings"
)

// ReadLine returns the next line of r without its LF or CRLF. A line longer
// than max bytes returns tooLong; a read error is returned as it is (io.EOF
// at the end).
func ReadLine(r *bufio.Reader, max int, tooLong error) (string, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		buf = append(buf, chunk...)
		if len(buf) > max {
			return "", tooLong
		}
		if !isPrefix {
			return strings.TrimSuffix(string(buf), "\r"), nil
		}
	}
}
