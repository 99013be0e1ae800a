package ami

import (
	"bytes"
	"testing"

	"github.com/fsivr/fsivr/internal/capture"
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
		capture.CheckFrames(t, data, "\r\n", func() ([]byte, error) {
			m, err := r.ReadMessage()
			if err != nil {
				return nil, err
			}
			raw := m.Raw()
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
			return raw, nil
		}, r.Buffered)
	})
}
