package ami

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func FuzzReadMessage(f *testing.F) {
	for _, session := range captureSessions(f) {
		for _, dir := range []string{".s2c.raw", ".c2s.raw"} {
			b := readTestdata(f, session+dir)
			if len(b) > 4<<10 {
				b = b[:4<<10] // the fuzzer mutates small inputs best
			}
			f.Add(b)
		}
	}
	f.Add([]byte("Response: Follows\r\nActionID: 1\r\nout\r\n\r\n--END COMMAND--\r\n\r\n"))
	f.Add([]byte("Response: Success\r\nMessage: Park successful\n\r\n\r\nEvent: X\nA:b\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 1<<14)
		_, _ = r.ReadBanner() // most inputs have none: then ReadMessage is not reached
		r = NewReader(bytes.NewReader(data), 1<<14)
		consumed := 0
		for {
			m, err := r.ReadMessage()
			if err != nil {
				if errors.Is(err, io.EOF) && r.Buffered() != 0 {
					t.Fatalf("clean EOF with %d bytes unread", r.Buffered())
				}
				return
			}
			raw := m.Raw()
			// The frame is the next bytes of the input after skipped blank lines.
			idx := bytes.Index(data[consumed:], raw)
			if idx < 0 || len(bytes.Trim(data[consumed:consumed+idx], "\r\n")) != 0 {
				t.Fatalf("frame %q is not the next bytes of the input", raw)
			}
			consumed += idx + len(raw)
			m2, n, err := ParseMessage(raw)
			if err != nil || n != len(raw) || m2.Len() != m.Len() || m2.Kind() != m.Kind() {
				t.Fatalf("re-parse: n=%d/%d err=%v", n, len(raw), err)
			}
			if m.Len() == 0 {
				t.Fatal("empty message returned")
			}
			_ = m.Output()
			_, _ = m.Var("CALLID")
			_ = m.String()
			checked := 0
			for k, v := range m.Headers() {
				if checked++; checked > 20 {
					break
				}
				if got, ok := m.Lookup(k); !ok || (got != v && len(m.Values(k)) < 2) {
					t.Fatalf("header %q=%q from Headers: Lookup gives %q, %v", k, v, got, ok)
				}
			}
		}
	})
}
