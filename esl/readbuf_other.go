//go:build !unix

package esl

// rawIdleReader is unix-only; elsewhere connections keep their buffer.
type rawIdleReader struct{ idleSource }

func newRawIdleReader(any) *rawIdleReader { return nil }
