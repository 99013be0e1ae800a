package esl

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/fsivr/fsivr/internal/capture"
)

func FuzzReadMessage(f *testing.F) {
	for _, name := range capture.Glob(f, filepath.Join(fixtureDir, "*.rx.bin")) {
		b := capture.Load(f, name)
		f.Add(b)
		// Single messages and cut-off pieces too, so the fuzzer starts near
		// the interesting boundaries.
		for _, m := range readAll(f, b) {
			raw := m.Raw()
			f.Add(bytes.Clone(raw))
			f.Add(bytes.Clone(raw[:len(raw)/2]))
		}
	}
	f.Add([]byte("Content-Length: 12\nContent-Type: text/event-json\n\n{\"a\":[1,{}]}"))
	f.Add([]byte("Content-Type: command/reply\nReply-Text: +OK\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 1<<16)
		capture.CheckFrames(t, data, "\n", func() ([]byte, error) {
			m, err := r.ReadMessage()
			if err != nil {
				return nil, err
			}
			raw := m.Raw()
			// Re-parsing the frame alone gives the same message and length.
			m2, n, err := ParseMessage(raw)
			if err != nil || n != len(raw) || m2.Kind() != m.Kind() {
				t.Fatalf("re-parse: n=%d/%d err=%v", n, len(raw), err)
			}
			// Every accessor is safe on whatever was accepted.
			_ = m.Name()
			_ = m.Subclass()
			_ = m.Body()
			_ = m.ContentType()
			_ = m.CommandLine()
			checked := 0
			for k, v := range m.EventHeaders() {
				if checked++; checked > 20 { // Lookup is linear: keep the check linear too
					break
				}
				if got, ok := m.Lookup(k); !ok && m.Format() != FormatXML {
					t.Fatalf("header %q from Headers not found by Lookup (value %q, got %q)", k, v, got)
				}
			}
			return raw, nil
		}, r.Buffered)
	})
}
