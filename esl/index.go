package esl

import (
	"bytes"
	"fmt"
)

// contentKind maps an outer Content-Type value to a Kind and event Format.
func contentKind(ct []byte) (Kind, Format) {
	switch string(ct) { // the compiler does not allocate for this conversion
	case "text/event-plain":
		return KindEvent, FormatPlain
	case "text/event-json":
		return KindEvent, FormatJSON
	case "text/event-xml":
		return KindEvent, FormatXML
	case "command/reply":
		return KindCommandReply, FormatNone
	case "api/response":
		return KindAPIResponse, FormatNone
	case "auth/request":
		return KindAuthRequest, FormatNone
	case "text/disconnect-notice":
		return KindDisconnectNotice, FormatNone
	}
	return KindUnknown, FormatNone
}

// ParseMessage parses one complete message held in b (header block, blank
// line, body) and reports how many bytes it used. It copies what it keeps.
// A b that holds less than a whole message gives io.ErrUnexpectedEOF.
func ParseMessage(b []byte) (*Message, int, error) {
	r := NewReader(bytes.NewReader(b), len(b)+1)
	m, err := r.ReadMessage()
	if err != nil {
		return nil, 0, err
	}
	return m, len(b) - r.Buffered(), nil
}

// parseFrame builds a Message from one whole frame: frame[:hdrLen] is the
// outer header block including its blank line, the rest is the body.
//
// Allocation budget: the Message struct and one buffer holding a copy of the
// frame followed by the header index.
func parseFrame(frame []byte, hdrLen int) (*Message, error) {
	hdr := frame[:hdrLen]
	body := frame[hdrLen:]
	outerLines := bytes.Count(hdr, []byte{'\n'}) - 1

	// Find the Content-Type wherever it is: the outbound connect reply has it
	// near the end of ~100 channel headers.
	kind, format := KindUnknown, FormatNone
	if ct, ok := scanHeader(hdr, "content-type:"); ok {
		kind, format = contentKind(ct)
	}
	idxOff := (len(frame) + 3) &^ 3 // the index is read as uint32s
	innerSlots := 0
	switch format {
	case FormatPlain:
		innerSlots = bytes.Count(body, []byte{'\n'}) + 1
	case FormatJSON:
		// Every field has a key (two quotes) and one structural colon, so
		// either count bounds the number of fields; take the tighter one.
		fields := min(bytes.Count(body, []byte{'"'})/2, bytes.Count(body, []byte{':'}))
		innerSlots = (fields + 1) * 2
	}
	m := &Message{
		buf:       newBuffer(frame, idxOff-len(frame)+slotSize*(outerLines+innerSlots)),
		frameLen:  uint32(len(frame)),
		idxOff:    uint32(idxOff),
		bodyStart: uint32(hdrLen),
		kind:      kind,
		format:    format,
	}
	// A client command ("sendmsg", "api status") starts with a line that has
	// no colon: keep it aside so fakes and tests can parse what we send.
	first := uint32(0)
	if nl := bytes.IndexByte(hdr, '\n'); nl > 0 && isCommandLine(hdr[:nl]) {
		m.cmdLen = uint32(nl)
		first = uint32(nl) + 1
	}
	n, _, err := m.indexLines(first, uint32(hdrLen), 0, true)
	if err != nil {
		return nil, err
	}
	m.nOuter, m.nFields = n, n
	switch format {
	case FormatPlain:
		err = m.indexPlain()
	case FormatJSON:
		err = m.indexJSON()
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// scanHeader returns the trimmed value of the first header whose lowercase
// name plus colon is lname, without indexing.
func scanHeader(hdr []byte, lname string) ([]byte, bool) {
	for len(hdr) > 0 {
		nl := bytes.IndexByte(hdr, '\n')
		if nl < 0 {
			nl = len(hdr)
		}
		line := hdr[:nl]
		hdr = hdr[min(nl+1, len(hdr)):]
		if len(line) >= len(lname) && equalFoldASCII(line[:len(lname)], lname) {
			return trimValue(line[len(lname):]), true
		}
	}
	return nil, false
}

// newBuffer returns a new slice holding frame followed by extra bytes of
// uninitialised index space. bytes.Join allocates without zeroing and copies
// only what it is given, so when frame is long enough its own bytes fill the
// index space (they are overwritten before being read); this saves clearing
// the whole buffer on every message, which showed up as a quarter of the
// parse time.
func newBuffer(frame []byte, extra int) []byte {
	if extra <= len(frame) {
		return bytes.Join([][]byte{frame, frame[:extra]}, nil)
	}
	buf := make([]byte, len(frame)+extra)
	copy(buf, frame)
	return buf
}

// indexLines records the start and end of each line in buf[pos:end] from
// slot i on, stopping at an empty line. It returns the next free slot and
// the offset just past the empty line (end if there was none). Lines are
// checked for a colon only when strict (outer headers); event lines are
// checked lazily: a line without a colon never matches a lookup.
func (m *Message) indexLines(pos, end, i uint32, strict bool) (uint32, uint32, error) {
	buf := m.buf[:end]
	idx := m.index()
	for pos < end {
		lineEnd := end
		if nl := bytes.IndexByte(buf[pos:], '\n'); nl >= 0 {
			lineEnd = pos + uint32(nl)
		}
		if lineEnd == pos { // blank line: end of this header block
			return i, pos + 1, nil
		}
		if strict && bytes.IndexByte(buf[pos:lineEnd], ':') <= 0 {
			return 0, 0, fmt.Errorf("%w: header line without name: %.40q", ErrMalformed, buf[pos:lineEnd])
		}
		idx[2*i], idx[2*i+1] = pos, lineEnd
		i++
		pos = lineEnd + 1
	}
	return i, end, nil
}

// indexPlain indexes a text/event-plain body: header lines with
// percent-encoded values, a blank line, and (if the lines end with an inner
// Content-Length) that many bytes of event body.
func (m *Message) indexPlain() error {
	end := m.frameLen
	n, next := m.indexEventLines(m.bodyStart, end, m.nOuter)
	m.nFields = n
	if vs, ve, ok := m.find(m.nOuter, n, "Content-Length"); ok {
		l, err := parseLength(m.buf[vs:ve])
		if err != nil {
			return fmt.Errorf("event body: %w", err)
		}
		if uint64(next)+uint64(l) > uint64(end) {
			return fmt.Errorf("%w: event body of %d bytes overruns the message", ErrMalformed, l)
		}
		m.evBody = [2]uint32{next, next + uint32(l)}
		m.hasEvBody = true
	}
	return nil
}

// indexJSON indexes a text/event-json body: one JSON object. For string
// values the index holds the contents between the quotes (unescaped on
// access); other values are kept as raw JSON text.
func (m *Message) indexJSON() error {
	b := m.buf[:m.frameLen]
	p := skipSpace(b, m.bodyStart)
	if p >= uint32(len(b)) || b[p] != '{' {
		return fmt.Errorf("%w: JSON event is not an object", ErrMalformed)
	}
	p = skipSpace(b, p+1)
	i := m.nOuter
	if p < uint32(len(b)) && b[p] == '}' {
		return m.jsonTail(b, p+1, i)
	}
	slots := m.slots()
	for {
		if p >= uint32(len(b)) || b[p] != '"' {
			return fmt.Errorf("%w: JSON event: expected key at %d", ErrMalformed, p)
		}
		ks := p + 1
		ke, ok := jsonStringEnd(b, ks)
		if !ok {
			return fmt.Errorf("%w: JSON event: unterminated key", ErrMalformed)
		}
		p = skipSpace(b, ke+1)
		if p >= uint32(len(b)) || b[p] != ':' {
			return fmt.Errorf("%w: JSON event: expected ':' at %d", ErrMalformed, p)
		}
		p = skipSpace(b, p+1)
		var vs, ve uint32
		if p < uint32(len(b)) && b[p] == '"' {
			vs = p + 1
			if ve, ok = jsonStringEnd(b, vs); !ok {
				return fmt.Errorf("%w: JSON event: unterminated string", ErrMalformed)
			}
			p = ve + 1
		} else {
			vs = p
			if ve, ok = jsonValueEnd(b, p); !ok {
				return fmt.Errorf("%w: JSON event: bad value at %d", ErrMalformed, p)
			}
			p = ve
		}
		if i+2 > uint32(len(slots)) {
			return fmt.Errorf("%w: JSON event: too many fields", ErrMalformed)
		}
		slots[i], slots[i+1] = [2]uint32{ks, ke}, [2]uint32{vs, ve}
		i += 2
		p = skipSpace(b, p)
		if p >= uint32(len(b)) {
			return fmt.Errorf("%w: JSON event: truncated object", ErrMalformed)
		}
		switch b[p] {
		case ',':
			p = skipSpace(b, p+1)
		case '}':
			return m.jsonTail(b, p+1, i)
		default:
			return fmt.Errorf("%w: JSON event: expected ',' or '}' at %d", ErrMalformed, p)
		}
	}
}

func (m *Message) jsonTail(b []byte, p, n uint32) error {
	if skipSpace(b, p) != uint32(len(b)) {
		return fmt.Errorf("%w: JSON event: data after the object", ErrMalformed)
	}
	m.nFields = n
	return nil
}

func skipSpace(b []byte, p uint32) uint32 {
	for p < uint32(len(b)) {
		switch b[p] {
		case ' ', '\t', '\n', '\r':
			p++
		default:
			return p
		}
	}
	return p
}

// jsonStringEnd returns the index of the closing quote of a string whose
// contents start at p: the first quote not escaped by an odd run of
// backslashes. (IndexByte is vectorized; IndexAny over two bytes is not.)
func jsonStringEnd(b []byte, p uint32) (uint32, bool) {
	for p < uint32(len(b)) {
		q := bytes.IndexByte(b[p:], '"')
		if q < 0 {
			return 0, false
		}
		p += uint32(q)
		bs := uint32(0)
		for bs < p && b[p-1-bs] == '\\' {
			bs++
		}
		if bs%2 == 0 {
			return p, true
		}
		p++
	}
	return 0, false
}

// jsonValueEnd returns the end of a non-string JSON value (number, literal,
// array or object) starting at p, tracking nesting and strings.
func jsonValueEnd(b []byte, p uint32) (uint32, bool) {
	depth := 0
	start := p
	for p < uint32(len(b)) {
		switch c := b[p]; c {
		case '"':
			e, ok := jsonStringEnd(b, p+1)
			if !ok {
				return 0, false
			}
			p = e + 1
			continue
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return p, p > start
			}
			depth--
			if depth == 0 {
				return p + 1, true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return p, p > start
			}
		}
		p++
	}
	return 0, false
}

// isCommandLine tells a command ("api status", "event plain CUSTOM
// fifo::info") from a header line: header names have no spaces.
func isCommandLine(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	return colon < 0 || bytes.IndexByte(line[:colon], ' ') >= 0
}
