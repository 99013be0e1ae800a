package capture

import (
	"errors"
	"io"
	"testing"
)

// frames returns a read func giving each frame, then err.
func frames(err error, fs ...string) func() ([]byte, error) {
	return func() ([]byte, error) {
		if len(fs) == 0 {
			return nil, err
		}
		f := fs[0]
		fs = fs[1:]
		return []byte(f), nil
	}
}

func TestCheckFrames(t *testing.T) {
	data := []byte("A: 1\n\n\nB: 2\n\nrest")
	none := func() int { return 0 }
	cases := []struct {
		name     string
		read     func() ([]byte, error)
		buffered func() int
		fails    bool
	}{
		{"consecutive frames across blank lines", frames(io.EOF, "A: 1\n\n", "B: 2\n\n"), none, false},
		{"an error that is not EOF with bytes left", frames(errors.New("bad frame"), "A: 1\n\n"), func() int { return 4 }, false},
		{"a frame skipped", frames(io.EOF, "B: 2\n\n"), none, true},
		{"a frame twice", frames(io.EOF, "A: 1\n\n", "A: 1\n\n"), none, true},
		{"a frame not in the input", frames(io.EOF, "C: 3\n\n"), none, true},
		{"clean EOF with bytes unread", frames(io.EOF, "A: 1\n\n", "B: 2\n\n"), func() int { return 4 }, true},
	}
	for _, c := range cases {
		rec := &recorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); CheckFrames(rec, data, "\n", c.read, c.buffered) }()
		<-done
		if rec.failed != c.fails {
			t.Errorf("%s: failed=%v, want %v", c.name, rec.failed, c.fails)
		}
	}
}
