package esl

import (
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrame is the largest message (header block plus body) a Reader
// accepts unless configured otherwise.
const DefaultMaxFrame = 4 << 20

// Read buffer sizes. Every call holds one Reader for its whole life, mostly
// idle while a prompt plays, so the buffer starts small (a 3.2 KB
// CHANNEL_EXECUTE_COMPLETE fits; bigger messages grow it) and one grown
// past keepReadBuf is dropped once it has been drained. A 32 KiB buffer per
// connection was half the heap of a held call (ivrload -mode hold). On a
// socket that can wait without a buffer (idleSource, readbuf.go) the
// buffer goes back to a pool whenever the Reader has consumed every byte.
const (
	minReadBuf  = 4 << 10
	keepReadBuf = 16 << 10
)

// Reader reads ESL messages from a byte stream: a header block of
// "Name: value\n" lines ended by a blank line, then exactly Content-Length
// bytes of body. It handles partial reads, many messages per read and bodies
// split across reads. After any error the stream is out of sync, so every
// later call returns the same error.
//
// A Reader is not safe for concurrent use; the connection layer runs one
// reader goroutine per socket.
type Reader struct {
	src      io.Reader
	buf      []byte
	start    int // first unread byte in buf
	end      int // end of buffered data
	scanned  int // bytes after start already searched for the blank line
	maxFrame int
	err      error
	idle     idleSource // nil: the buffer is kept between messages
}

// NewReader returns a Reader reading from r that rejects messages larger
// than maxFrame bytes with ErrFrameTooLarge (maxFrame <= 0 means
// DefaultMaxFrame).
func NewReader(r io.Reader, maxFrame int) *Reader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &Reader{src: r, maxFrame: maxFrame}
}

// Buffered reports how many bytes have been read from the source but not yet
// consumed by ReadMessage.
func (r *Reader) Buffered() int { return r.end - r.start }

// ReadMessage reads the next message. At a clean end of stream (between
// messages) it returns io.EOF; a stream that ends inside a message gives
// io.ErrUnexpectedEOF. Framing errors wrap ErrMalformed or ErrFrameTooLarge.
func (r *Reader) ReadMessage() (*Message, error) {
	if r.err != nil {
		return nil, r.err
	}
	m, err := r.readMessage()
	if err != nil {
		r.err = err
	}
	return m, err
}

func (r *Reader) readMessage() (*Message, error) {
	// Find the end of the header block. Stray blank lines between messages
	// are skipped: they carry nothing and FreeSWITCH never sends them.
	//
	// The first look at a message's bytes is scanOuter's one pass: when the
	// header block is in (nearly always), that pass has found its end and
	// the Content-Length and indexed its lines into pre, for the parse once
	// the body is in (offsets from the frame's start, which stay right when
	// fill moves the bytes). A header block arriving in pieces is then
	// searched for its end from where the last search stopped, and scanned
	// once it is whole.
	var pre [preSlots]uint32
	var oh outerHeader
	if r.start == r.end && len(r.buf) > keepReadBuf {
		r.buf, r.start, r.end, r.scanned = nil, 0, 0, 0
	}
	for {
		for r.start < r.end && r.buf[r.start] == '\n' {
			r.start++
			r.scanned = 0
		}
		if r.start < r.end {
			var err error
			if r.scanned == 0 {
				if oh, err = scanOuter(r.buf[r.start:r.end], pre[:]); err != nil {
					return nil, err
				}
				if oh.hdrLen > 0 {
					break
				}
			} else if i := headerEnd(r.buf[r.start+r.scanned-1 : r.end]); i >= 0 {
				if oh, err = scanOuter(r.buf[r.start:r.start+r.scanned-1+i], pre[:]); err != nil {
					return nil, err
				}
				r.scanned = 0
				break
			}
			r.scanned = r.end - r.start
		}
		if r.end-r.start >= r.maxFrame {
			return nil, fmt.Errorf("%w: header block exceeds %d bytes", ErrFrameTooLarge, r.maxFrame)
		}
		if err := r.fill(r.end - r.start + 1); err != nil {
			if errors.Is(err, io.EOF) && r.end == r.start {
				return nil, io.EOF
			}
			return nil, r.eofErr(err)
		}
	}
	hdrEnd := oh.hdrLen
	bodyLen := oh.bodyLen
	total := hdrEnd + bodyLen
	if bodyLen > r.maxFrame || total > r.maxFrame {
		return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrFrameTooLarge, total, r.maxFrame)
	}
	if r.end-r.start < total {
		if err := r.fill(total); err != nil {
			return nil, r.eofErr(err)
		}
	}
	frame := r.buf[r.start : r.start+total]
	r.start += total
	m, err := parseScanned(frame, hdrEnd, pre[:], oh) // copies what it keeps
	r.releaseBuf()
	return m, err
}

func (r *Reader) eofErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fill reads until at least need bytes are buffered after start. The
// buffer grows with the bytes that arrive (doubling what it holds), never
// to an announced Content-Length up front: a peer that announces a 4 MB
// body and sends 80 bytes costs a few KiB, not 4 MB (250 such connections
// cost +1 GB of heap when the whole announced size was allocated).
func (r *Reader) fill(need int) error {
	empty := 0
	for r.end-r.start < need {
		if r.idle != nil && r.start == r.end {
			r.releaseBuf()
			buf, n, err := r.idle.readIdle(getReadBuf, putReadBuf)
			if err != nil {
				return err
			}
			r.buf, r.start, r.end = buf, 0, n
			continue
		}
		if r.end == len(r.buf) {
			r.makeRoom(need)
		}
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			if r.end-r.start >= need {
				return nil
			}
			return err
		}
		if n == 0 {
			if empty++; empty > 100 {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// makeRoom makes space after end for at least one more byte: it moves the
// unread bytes to the front when that is enough, else it allocates twice
// what is held (at least minReadBuf, at most what need calls for).
func (r *Reader) makeRoom(need int) {
	held := r.end - r.start
	size := min(max(2*held, minReadBuf), max(need, minReadBuf))
	if r.start > 0 && len(r.buf) >= size {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, n
		return
	}
	nb := make([]byte, size)
	n := copy(nb, r.buf[r.start:r.end])
	if r.idle != nil {
		putReadBuf(r.buf)
	}
	r.buf, r.start, r.end = nb, 0, n
}

// parseLength parses a non-negative decimal Content-Length.
func parseLength(v []byte) (int, error) {
	if len(v) == 0 || len(v) > 10 {
		return 0, fmt.Errorf("%w: bad Content-Length %q", ErrMalformed, v)
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: bad Content-Length %q", ErrMalformed, v)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func equalFoldASCII(b []byte, lowerName string) bool {
	if len(b) != len(lowerName) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lowerName[i] {
			return false
		}
	}
	return true
}
