// Package logbuf is a log destination for tests: the goroutines under test
// write log lines into a Buffer while the test reads what they wrote.
//
//	var logs logbuf.Buffer
//	srv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
//	...
//	if !strings.Contains(logs.String(), "quarantined") { ... }
package logbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent writers and readers. The
// zero Buffer is empty and ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
