package ami

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrame is the largest message a Reader accepts unless configured
// otherwise. The biggest real messages are Command outputs (`core show
// hints` on a large PBX); an event is under 2 KB.
const DefaultMaxFrame = 1 << 20

// Banner prefix every Asterisk manager sends first ("Asterisk Call
// Manager/11.0.0" on Asterisk 22).
const bannerPrefix = "Asterisk Call Manager/"

// Read buffer sizes: start small (an AMI session is mostly idle between
// events) and drop a buffer grown past keepReadBuf once it is drained.
const (
	minReadBuf  = 4 << 10
	keepReadBuf = 64 << 10
	maxBanner   = 256
)

// endCommand ends the output of a `Response: Follows` Command reply
// (Asterisk before 14).
const endCommand = "--END COMMAND--"

// slabSize is how many Message structs one allocation holds: the frame
// bytes and index are one allocation per message, the struct is amortized
// over a slab. A retained Message keeps its slab alive (at most
// slabSize-1 other messages' memory), which is the price of parsing with
// about one allocation per message.
const slabSize = 16

// Reader reads AMI messages from a byte stream: an optional banner line,
// then blocks of "Key: Value" lines, each block ended by an empty line.
// Lines are split on LF and a trailing CR is dropped, so CRLF (what
// Asterisk sends), LF-only and the bare LFs Asterisk puts inside some CRLF
// messages (`Message: Park successful\n\r\n\r\n`, two Agents headers joined
// by LF) all frame correctly; empty messages (blank lines between blocks)
// are skipped. A `Response: Follows` message (Command on Asterisk < 14)
// runs to the `--END COMMAND--` line, blank lines in the output included.
//
// After an error the stream is out of sync and every later call returns
// the same error. A Reader is not safe for concurrent use.
type Reader struct {
	src      io.Reader
	buf      []byte
	start    int // first byte of the current message
	end      int // end of buffered data
	maxFrame int
	err      error

	// Scan state of the current message, kept across reads.
	scan    int    // offset from start of the next unscanned line
	idx     []byte // index slots of the lines scanned so far (offsets from start)
	nLines  uint32
	flags   uint8
	follows uint8 // followsNo, followsHeaders, followsBody
	endSeen bool  // follows: the last line ended with --END COMMAND--
	body    [2]uint32

	slab []Message
}

// Scan flags of the current message.
const (
	hasEvent uint8 = 1 << iota
	hasResponse
	hasAction
)

const (
	followsNo = iota
	followsHeaders
	followsBody
)

// NewReader returns a Reader reading from r that rejects messages larger
// than maxFrame bytes with ErrFrameTooLarge (maxFrame <= 0 means
// DefaultMaxFrame).
func NewReader(r io.Reader, maxFrame int) *Reader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &Reader{src: r, maxFrame: maxFrame}
}

// Buffered reports how many bytes have been read from the source but not
// yet returned as messages.
func (r *Reader) Buffered() int { return r.end - r.start }

// ReadBanner reads the first line Asterisk sends and returns the version
// after "Asterisk Call Manager/" ("11.0.0"). Anything else is ErrMalformed;
// a connection closed before a byte (an Asterisk that is shutting down
// accepts and closes) gives io.EOF.
func (r *Reader) ReadBanner() (string, error) {
	if r.err != nil {
		return "", r.err
	}
	v, err := r.readBanner()
	if err != nil {
		r.err = err
	}
	return v, err
}

func (r *Reader) readBanner() (string, error) {
	for {
		if i := bytes.IndexByte(r.buf[r.start:r.end], '\n'); i >= 0 {
			line := r.buf[r.start : r.start+i]
			line = bytes.TrimSuffix(line, []byte{'\r'})
			r.start += i + 1
			if !bytes.HasPrefix(line, []byte(bannerPrefix)) {
				return "", fmt.Errorf("%w: not an AMI banner: %.60q", ErrMalformed, line)
			}
			return string(line[len(bannerPrefix):]), nil
		}
		if r.end-r.start >= maxBanner {
			return "", fmt.Errorf("%w: no banner line in %d bytes", ErrMalformed, r.end-r.start)
		}
		if err := r.fill(); err != nil {
			if errors.Is(err, io.EOF) && r.end == r.start {
				return "", io.EOF
			}
			return "", eofErr(err)
		}
	}
}

// ReadMessage reads the next message. At a clean end of stream (between
// messages) it returns io.EOF; a stream that ends inside a message gives
// io.ErrUnexpectedEOF. Framing errors wrap ErrMalformed or
// ErrFrameTooLarge.
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
	if r.start == r.end && len(r.buf) > keepReadBuf {
		r.buf, r.start, r.end = nil, 0, 0
	}
	for {
		if r.scan == 0 {
			r.skipBlank()
		}
		if m, err := r.scanLines(); m != nil || err != nil {
			return m, err
		}
		if r.end-r.start >= r.maxFrame {
			return nil, fmt.Errorf("%w: no end of message in %d bytes", ErrFrameTooLarge, r.maxFrame)
		}
		if err := r.fill(); err != nil {
			if errors.Is(err, io.EOF) && r.end == r.start {
				return nil, io.EOF
			}
			return nil, eofErr(err)
		}
	}
}

// skipBlank drops empty lines before a message: Asterisk's bare-LF replies
// leave one after the message they end.
func (r *Reader) skipBlank() {
	for r.start < r.end {
		switch {
		case r.buf[r.start] == '\n':
			r.start++
		case r.buf[r.start] == '\r' && r.start+1 < r.end && r.buf[r.start+1] == '\n':
			r.start += 2
		default:
			return
		}
	}
}

// scanLines indexes the complete lines buffered after the scan point and
// returns the message once its empty line is found (nil, nil when more
// bytes are needed).
func (r *Reader) scanLines() (*Message, error) {
	buf := r.buf[:r.end]
	pos := r.start + r.scan
	// The hot loop keeps its state in locals (an event is 15-30 lines).
	idx, n, flags := r.idx, r.nLines, r.flags
	for pos < r.end {
		nl := bytes.IndexByte(buf[pos:], '\n')
		if nl < 0 {
			break
		}
		ls, le, next := pos, pos+nl, pos+nl+1
		if le > ls && buf[le-1] == '\r' {
			le--
		}
		pos = next
		r.scan = next - r.start
		if le == ls {
			if r.follows != followsNo && !r.endSeen {
				continue // a blank line inside old-style Command output
			}
			if n == 0 {
				continue // never happens after skipBlank, but an empty message is no message
			}
			if next-r.start > r.maxFrame {
				return nil, fmt.Errorf("%w: %d-byte message, limit %d", ErrFrameTooLarge, next-r.start, r.maxFrame)
			}
			r.idx, r.nLines, r.flags = idx, n, flags
			return r.finish(next), nil
		}
		if r.follows != followsNo || n == 0 {
			r.idx, r.nLines, r.flags = idx, n, flags
			if err := r.line(buf, ls, le); err != nil {
				return nil, err
			}
			idx, n, flags = r.idx, r.nLines, r.flags
			continue
		}
		line := buf[ls:le]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("%w: header line without a name: %.60q", ErrMalformed, line)
		}
		switch colon {
		case 5, 6, 8:
			flags |= kindFlag(line[:colon])
		}
		idx = binary.LittleEndian.AppendUint32(idx, uint32(ls-r.start))
		idx = binary.LittleEndian.AppendUint32(idx, uint32(le-r.start))
		n++
	}
	r.idx, r.nLines, r.flags = idx, n, flags
	return nil, nil
}

// kindFlag tells the Event, Response and Action header names apart.
func kindFlag(name []byte) uint8 {
	switch {
	case len(name) == 5 && equalFold(name, "event"):
		return hasEvent
	case len(name) == 8 && equalFold(name, "response"):
		return hasResponse
	case len(name) == 6 && equalFold(name, "action"):
		return hasAction
	}
	return 0
}

// line records one non-empty line [ls, le) of the current message.
func (r *Reader) line(buf []byte, ls, le int) error {
	line := buf[ls:le]
	switch r.follows {
	case followsBody:
		r.endLine(line, le)
		return nil
	case followsHeaders:
		if !hasName(line, "privilege") && !hasName(line, "actionid") {
			r.follows = followsBody
			r.body = [2]uint32{uint32(ls - r.start), uint32(ls - r.start)}
			r.endLine(line, le)
			return nil
		}
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return fmt.Errorf("%w: header line without a name: %.60q", ErrMalformed, line)
	}
	f := kindFlag(line[:colon])
	r.flags |= f
	if f == hasResponse && r.nLines == 0 && equalFold(bytes.TrimSpace(line[colon+1:]), "follows") {
		r.follows = followsHeaders
	}
	r.idx = binary.LittleEndian.AppendUint32(r.idx, uint32(ls-r.start))
	r.idx = binary.LittleEndian.AppendUint32(r.idx, uint32(le-r.start))
	r.nLines++
	return nil
}

// endLine tracks the end of Follows output: the text runs up to the
// --END COMMAND-- marker, which may share the last output line.
func (r *Reader) endLine(line []byte, le int) {
	r.endSeen = bytes.HasSuffix(line, []byte(endCommand))
	if r.endSeen {
		r.body[1] = uint32(le - len(endCommand) - r.start)
	} else {
		r.body[1] = uint32(le - r.start)
	}
}

// finish builds the Message for buf[start:next) and resets the scan state.
func (r *Reader) finish(next int) *Message {
	frame := r.buf[r.start:next]
	if len(r.slab) == 0 {
		r.slab = make([]Message, slabSize)
	}
	m := &r.slab[0]
	r.slab = r.slab[1:]
	// One allocation for the frame and its index; Join copies without
	// zeroing the destination first.
	*m = Message{
		buf:      bytes.Join([][]byte{frame, r.idx}, nil),
		frameLen: uint32(len(frame)),
		n:        r.nLines,
		flags:    r.flags,
	}
	if r.follows == followsBody && r.endSeen {
		m.body = r.body
		m.flags |= hasFollows
	}
	r.start = next
	r.scan, r.idx, r.nLines, r.flags, r.follows, r.endSeen = 0, r.idx[:0], 0, 0, followsNo, false
	return m
}

// fill reads more bytes, moving or growing the buffer as needed.
func (r *Reader) fill() error {
	if r.end == len(r.buf) {
		if r.start > 0 && r.end-r.start < len(r.buf)/2 {
			n := copy(r.buf, r.buf[r.start:r.end])
			r.start, r.end = 0, n
		} else {
			nb := make([]byte, max(2*len(r.buf), minReadBuf))
			n := copy(nb, r.buf[r.start:r.end])
			r.buf, r.start, r.end = nb, 0, n
		}
	}
	for empty := 0; ; empty++ {
		n, err := r.src.Read(r.buf[r.end:])
		r.end += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
		if empty > 100 {
			return io.ErrNoProgress
		}
	}
}

func eofErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// hasName reports whether line is a header named lname (lower case).
func hasName(line []byte, lname string) bool {
	return len(line) > len(lname) && line[len(lname)] == ':' && equalFold(line[:len(lname)], lname)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares b with s (same length) ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] != s[i] && lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}
