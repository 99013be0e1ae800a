package ami

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/internal/capture"
)

// The captures are copied from ../shared/fixtures/asterisk into testdata
// so that a clean clone tests without ../shared; a missing file fails.

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	return capture.Load(t, filepath.Join("testdata", name))
}

// captureSessions lists every captured session (by its .jsonl).
func captureSessions(t testing.TB) []string {
	t.Helper()
	files := capture.Glob(t, filepath.Join("testdata", "*.jsonl"))
	if len(files) < 40 {
		t.Fatalf("want the Asterisk captures in testdata, found %d", len(files))
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".jsonl"))
	}
	return names
}

type header struct{ Name, Value string }

type capturedMessage struct {
	T       float64     `json:"t"`
	Dir     string      `json:"dir"`
	Headers [][2]string `json:"headers"`
}

// wantMessages reads a .jsonl and returns the expected messages per
// direction, normalized the way the issue specifies framing: the capture
// tool split lines on CRLF only, so a bare LF it left inside a value
// ("Park successful\n", "1796112741\nLoggedInTime: 1796112736", the
// LF-only request) is split here into the header lines it really is.
func wantMessages(t testing.TB, session string) (s2c, c2s [][]header, banner string, eof bool) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, session+".jsonl")))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var cm capturedMessage
		if err := json.Unmarshal(sc.Bytes(), &cm); err != nil {
			t.Fatalf("%s.jsonl: %v", session, err)
		}
		var hs []header
		for _, kv := range cm.Headers {
			switch kv[0] {
			case "__BANNER__":
				banner = kv[1]
				continue
			case "__EOF__":
				eof = true
				continue
			}
			pieces := strings.Split(kv[1], "\n")
			hs = append(hs, header{kv[0], pieces[0]})
			for i, p := range pieces[1:] {
				if p == "" {
					if strings.Join(pieces[i+1:], "") != "" {
						t.Fatalf("%s: a value holds a whole blank line: %q", session, kv[1])
					}
					break
				}
				k, v, ok := strings.Cut(p, ":")
				if !ok {
					t.Fatalf("%s: bare-LF piece without a colon: %q", session, p)
				}
				hs = append(hs, header{k, strings.TrimPrefix(v, " ")})
			}
		}
		if len(hs) == 0 {
			continue
		}
		if cm.Dir == "S->C" {
			s2c = append(s2c, hs)
		} else {
			c2s = append(c2s, hs)
		}
	}
	return s2c, c2s, banner, eof
}

func readMessages(r *Reader) ([]*Message, error) {
	var msgs []*Message
	for {
		m, err := r.ReadMessage()
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, fmt.Errorf("message %d: %w", len(msgs), err)
		}
		msgs = append(msgs, m)
	}
}

func compareMessages(t *testing.T, what string, got []*Message, want [][]header) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: parsed %d messages, the capture lists %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		var hs []header
		for k, v := range got[i].Headers() {
			hs = append(hs, header{k, v})
		}
		if fmt.Sprint(hs) != fmt.Sprint(want[i]) {
			t.Errorf("%s: message %d:\n got %q\nwant %q", what, i, hs, want[i])
			return
		}
	}
}

func TestCapturesParseExactly(t *testing.T) {
	for _, session := range captureSessions(t) {
		t.Run(session, func(t *testing.T) {
			s2cWant, c2sWant, banner, _ := wantMessages(t, session)
			s2c := readTestdata(t, session+".s2c.raw")
			c2s := readTestdata(t, session+".c2s.raw")
			for _, ch := range capture.Chunkings() {
				name := ch.Name
				r := NewReader(ch.Reader(s2c), 0)
				v, err := r.ReadBanner()
				switch {
				case banner == "" && len(s2c) == 0:
					if !errors.Is(err, io.EOF) {
						t.Fatalf("%s: empty session: ReadBanner = %q, %v; want io.EOF", name, v, err)
					}
					continue
				case err != nil || "Asterisk Call Manager/"+v != banner:
					t.Fatalf("%s: banner %q, %v; capture says %q", name, v, err, banner)
				}
				got, err := readMessages(r)
				if err != nil {
					t.Fatalf("%s: s2c: %v", name, err)
				}
				compareMessages(t, name+" s2c", got, s2cWant)

				got, err = readMessages(NewReader(ch.Reader(c2s), 0))
				if err != nil {
					t.Fatalf("%s: c2s: %v", name, err)
				}
				compareMessages(t, name+" c2s", got, c2sWant)
			}
		})
	}
}
