//go:build unix

package esl

import (
	"io"
	"os"
	"syscall"
)

// rawIdleReader waits for data through the socket's poller without a
// buffer: RawConn.Read calls try again each time the socket becomes
// readable, and only then is a buffer taken. The syscalls are those of an
// ordinary net.Conn read (one read that finds nothing, the wait, one read
// that finds bytes); read deadlines apply as they do to Read.
type rawIdleReader struct {
	rc syscall.RawConn
}

func newRawIdleReader(c any) *rawIdleReader {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &rawIdleReader{rc: rc}
}

func (r *rawIdleReader) readIdle(get func() []byte, put func([]byte)) ([]byte, int, error) {
	var (
		buf  []byte
		n    int
		rerr error
	)
	err := r.rc.Read(func(fd uintptr) bool {
		b := get()
		for {
			n, rerr = syscall.Read(int(fd), b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			put(b)
			return false // wait until readable, then call again
		}
		buf = b
		return true
	})
	if err != nil { // deadline, closed connection
		if buf != nil {
			put(buf)
		}
		return nil, 0, err
	}
	switch {
	case rerr != nil:
		put(buf)
		return nil, 0, os.NewSyscallError("read", rerr)
	case n <= 0:
		put(buf)
		return nil, 0, io.EOF
	}
	return buf, n, nil
}
