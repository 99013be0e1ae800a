package capture

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// CheckFrames reads a reader over data to its end and fails t unless the
// reader kept the framing properties every protocol reader here (esl, ami)
// has, whatever data is: each frame is the next bytes of data, after
// nothing but bytes of skip (the blank lines a reader steps over), and a
// clean io.EOF leaves nothing buffered.
//
// read returns the next frame's raw bytes, after the protocol's own checks
// of its message, or the reader's error, which ends the check; buffered
// reports the reader's unread bytes. Fuzz targets call it on every input.
func CheckFrames(t testing.TB, data []byte, skip string, read func() ([]byte, error), buffered func() int) {
	t.Helper()
	consumed := 0
	for {
		raw, err := read()
		if err != nil {
			if n := buffered(); errors.Is(err, io.EOF) && n != 0 {
				t.Fatalf("clean EOF with %d bytes unread", n)
			}
			return
		}
		idx := bytes.Index(data[consumed:], raw)
		if idx < 0 || len(bytes.Trim(data[consumed:consumed+idx], skip)) != 0 {
			t.Fatalf("frame %q is not the next bytes of the input", raw)
		}
		consumed += idx + len(raw)
	}
}
