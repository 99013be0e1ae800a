package esl

import (
	"sync"

	"github.com/fsivr/fsivr/internal/netctx"
)

// readBufs holds the standard-size read buffers of connections that are
// waiting for their next message. A held call is idle nearly all the
// time (a prompt plays, the caller thinks), so a Reader whose source can
// wait for data without a buffer (idleSource) hands its buffer back here
// once it has consumed every byte, and takes one again when bytes arrive:
// 10,000 idle calls then hold a handful of buffers, not 10,000.
//
// The pooled buffers are idleReadBuf, larger than a typical event, so that
// one read takes every event FreeSWITCH has queued (EXECUTE, ANSWER and
// EXECUTE_COMPLETE come in bursts, and under load several calls' worth
// waits per socket): fewer read syscalls and poller wake-ups per event. A
// call holds one only while bytes of its connection are being consumed.
//
// The pool holds *[idleReadBuf]byte: a slice converts back to that pointer
// without an allocation, where a *[]byte would cost one on every Put, that
// is on every idle wait of every call.
var readBufs = sync.Pool{New: func() any { return new([idleReadBuf]byte) }}

const idleReadBuf = 16 << 10

// idleSource is a byte source that can wait for data without a buffer:
// readIdle blocks until bytes can be read, then reads them into a buffer
// from get (which it gives back to put if nothing came) and returns it.
type idleSource interface {
	readIdle(get func() []byte, put func([]byte)) (buf []byte, n int, err error)
}

func getReadBuf() []byte { return readBufs.Get().(*[idleReadBuf]byte)[:] }

func putReadBuf(b []byte) {
	if cap(b) != idleReadBuf {
		return // grown for a big message, or a Reader's own: let it go
	}
	readBufs.Put((*[idleReadBuf]byte)(b[:idleReadBuf]))
}

// releaseBuf gives an empty Reader's buffer back to the pool when its
// source can wait without one.
func (r *Reader) releaseBuf() {
	if r.idle == nil || r.start != r.end || r.buf == nil {
		return
	}
	putReadBuf(r.buf)
	r.buf, r.start, r.end, r.scanned = nil, 0, 0, 0
}

// idleConn is the idle source of a connection's Reader: the socket's
// poller, after the stall guard has cleared any deadline it armed (the
// Reader holds no bytes, so no message is under way; a zero-length Read
// reaches no syscall).
type idleConn struct {
	stall *netctx.StallReader
	raw   *rawIdleReader
}

func (c *idleConn) readIdle(get func() []byte, put func([]byte)) ([]byte, int, error) {
	_, _ = c.stall.Read(nil)
	return c.raw.readIdle(get, put)
}
