package esl

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"
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

// preSlots is the size of the line index (line ends) parseFrame builds on
// its stack before it knows how big the message's own index must be: a
// CHANNEL_EXECUTE_COMPLETE has ~90 lines. Indexing first and allocating
// then spares a counting pass over the frame; a frame with more lines is
// counted from where the scratch index filled up.
const preSlots = 128

// parseFrame builds a Message from one whole frame: frame[:hdrLen] is the
// outer header block including its blank line, the rest is the body.
//
// Allocation budget: one buffer holding a copy of the frame followed by the
// header index, and the Message struct, at the buffer's start when that
// takes no more bytes (see allocIndex), else apart.
func parseFrame(frame []byte, hdrLen int) (*Message, error) {
	var pre [preSlots]uint32
	return parseFrameWith(frame, hdrLen, pre[:])
}

// parseFrameWith is parseFrame with the scratch index pre (any length:
// tests use short ones to take the paths a long frame takes).
func parseFrameWith(frame []byte, hdrLen int, pre []uint32) (*Message, error) {
	oh, err := scanOuter(frame[:hdrLen], pre)
	if err != nil {
		return nil, err
	}
	return parseScanned(frame, hdrLen, pre, oh)
}

// headerEnd returns the offset just past the first empty line in b (the
// end of a header block), or -1. It is bytes.Index(b, "\n\n") + 2 without
// the two-byte compare call at every line end.
func headerEnd(b []byte) int {
	for p := 0; p < len(b); {
		nl := bytes.IndexByte(b[p:], '\n')
		if nl < 0 {
			break
		}
		p += nl + 1
		if p < len(b) && b[p] == '\n' {
			return p + 1
		}
	}
	return -1
}

// outerHeader is what scanOuter finds in one pass over an outer header
// block: the Reader needs the Content-Length before it has the body, the
// parse the index and the Content-Type after.
type outerHeader struct {
	hdrLen  int       // the block's length, blank line included; 0: no blank line yet
	n       uint32    // header lines recorded in the scratch index
	full    bool      // more lines than the scratch index holds (n is 0)
	cmdLen  uint32    // length of a leading command line
	ct      [2]uint32 // the first Content-Type value (empty if none)
	bodyLen int       // the first Content-Length (0 if none)
}

// scanOuter checks and indexes the outer header block at the start of hdr
// into ends (where each line ends), finds the Content-Type and Content-Length, and finds where
// the block ends, at its blank line: the one pass over it. hdr may hold
// more than the block, or less: with no blank line in it, hdrLen is 0 (the
// last, unfinished line is not checked).
func scanOuter(hdr []byte, ends []uint32) (outerHeader, error) {
	var oh outerHeader
	end := uint32(len(hdr))
	pos := uint32(0)
	haveCT, haveCL := false, false
	for pos < end {
		nl := bytes.IndexByte(hdr[pos:], '\n')
		if nl < 0 {
			break
		}
		le := pos + uint32(nl)
		if le == pos { // blank line: end of the header block
			oh.hdrLen = int(pos) + 1
			return oh, nil
		}
		colon := bytes.IndexByte(hdr[pos:le], ':')
		// A client command ("sendmsg", "api status") starts with a line that
		// has no colon, or a space before it: keep it aside so fakes and
		// tests can parse what we send.
		if pos == 0 && (colon < 0 || bytes.IndexByte(hdr[:colon], ' ') >= 0) {
			oh.cmdLen = le
			pos = le + 1
			continue
		}
		if colon <= 0 {
			return oh, fmt.Errorf("%w: header line without name: %.40q", ErrMalformed, hdr[pos:le])
		}
		if !oh.full {
			if oh.n == uint32(len(ends)) {
				oh.full, oh.n = true, 0
			} else {
				ends[oh.n] = le
				oh.n++
			}
		}
		// FreeSWITCH spells the names so: the exact compare is two word
		// compares, the folding loop one per byte.
		switch name := hdr[pos : pos+uint32(colon)]; {
		case colon == len("content-type") && !haveCT &&
			(string(name) == "Content-Type" || equalFoldASCII(name, "content-type")):
			vs, ve := lineValue(hdr, pos+uint32(colon), le)
			oh.ct, haveCT = [2]uint32{vs, ve}, true
		case colon == len("content-length") && !haveCL &&
			(string(name) == "Content-Length" || equalFoldASCII(name, "content-length")):
			vs, ve := lineValue(hdr, pos+uint32(colon), le)
			l, err := parseLength(hdr[vs:ve])
			if err != nil {
				return oh, err
			}
			oh.bodyLen, haveCL = l, true
		}
		pos = le + 1
	}
	return oh, nil // no blank line: hdrLen 0
}

// parseScanned is parseFrame once scanOuter has been over the header
// block, recording it in pre.
func parseScanned(frame []byte, hdrLen int, pre []uint32, oh outerHeader) (*Message, error) {
	if oh.full { // more header lines than pre holds (a big connect reply)
		pre = make([]uint32, bytes.Count(frame[:hdrLen], []byte{'\n'}))
		var err error
		if oh, err = scanOuter(frame[:hdrLen], pre); err != nil {
			return nil, err // cannot happen: it was scanned once
		}
	}
	// Until the copy, m.buf is the frame itself: notePicked reads the lines
	// through it, at the offsets they keep in the copy. m lives on the
	// stack until allocIndex moves it to the heap, into the message's
	// buffer when that costs no more bytes.
	m := Message{
		buf:       frame,
		frameLen:  uint32(len(frame)),
		bodyStart: uint32(hdrLen),
		cmdLen:    oh.cmdLen,
		nOuter:    oh.n,
		nFields:   oh.n,
	}
	m.kind, m.format = contentKind(frame[oh.ct[0]:oh.ct[1]])
	nOuter := oh.n
	switch m.format {
	case FormatPlain:
		return m.indexPlain(pre)
	case FormatJSON:
		// Every field has a key (two quotes) and one structural colon, so
		// either count bounds the number of fields; take the tighter one.
		body := frame[hdrLen:]
		fields := min(bytes.Count(body, []byte{'"'})/2, bytes.Count(body, []byte{':'}))
		h := m.allocIndex(pre[:nOuter], int(nOuter), (fields+1)*2)
		if err := h.indexJSON(); err != nil {
			return nil, err
		}
		return h, nil
	}
	return m.allocIndex(pre[:nOuter], int(nOuter), 0), nil
}

// allocIndex returns m moved to the heap with its own buffer: a copy of
// the frame (m.buf until now) followed by room for the ends of lines
// header lines, the first ones ends, and for pairs JSON slots.
//
// The Message and its buffer stay two allocations. Putting the Message at
// the start of its buffer would save one malloc (~250 instructions), but
// the buffer is bytes the collector does not scan: the Message's pointer
// would be hidden from it, which Go's rules for unsafe do not allow and a
// later runtime could punish with a freed buffer.
func (m *Message) allocIndex(ends []uint32, lines, pairs int) *Message {
	n := int(m.frameLen)
	w := narrowEnd
	if n > maxNarrow {
		w, m.wide = wideEnd, true
	}
	size := n + w*lines
	if pairs > 0 {
		size = (size+3)&^3 + slotSize*pairs // the slots are read as uint32s
	}
	h := new(Message)
	*h = *m
	h.buf, h.idxOff = newBuffer(m.buf[:n], size), uint32(n)
	if pairs > 0 {
		h.pairOff = uint32(size - slotSize*pairs)
	}
	h.putEnds(0, ends)
	return h
}

// putEnds stores ends as the ends of lines from line i on.
func (m *Message) putEnds(i uint32, ends []uint32) {
	if m.wide {
		idx := m.buf[m.idxOff+wideEnd*i:]
		for j, e := range ends {
			binary.LittleEndian.PutUint32(idx[wideEnd*j:], e)
		}
		return
	}
	start := m.idxOff + narrowEnd*i
	packEnds(m.buf[start:start+narrowEnd*uint32(len(ends))], ends)
}

// packEndsGeneric stores ends, each below 1<<16, as little-endian
// uint16s in dst (two bytes each), four a step. It is packEnds where
// there is no assembly, and the reference packEnds is tested against.
func packEndsGeneric(dst []byte, ends []uint32) {
	for len(ends) >= 4 && len(dst) >= 8 {
		a := uint64(ends[0]) | uint64(ends[1])<<16
		b := uint64(ends[2]) | uint64(ends[3])<<16
		binary.LittleEndian.PutUint64(dst, a|b<<32)
		ends, dst = ends[4:], dst[8:]
	}
	for i, e := range ends {
		binary.LittleEndian.PutUint16(dst[narrowEnd*i:], uint16(e))
	}
}

// newBuffer returns a new slice of size bytes starting with a copy of
// frame (size >= len(frame)); the rest is not initialised (the index is
// written there before it is read). A strings.Builder grown to size is one
// allocation the runtime does not clear, and the copy is frame's bytes
// only; clearing the whole buffer on every message showed up as a quarter
// of the parse time. The Builder is dropped here, so nothing else sees the
// bytes written after its string.
func newBuffer(frame []byte, size int) []byte {
	if len(frame) == 0 {
		return make([]byte, size) // an empty frame: no pointer to take
	}
	var b strings.Builder
	b.Grow(size)
	b.Write(frame)
	return unsafe.Slice(unsafe.StringData(b.String()), size)
}

// hotFilter picks the lines that start like a hot header: their first
// eight bytes, folded (foldWord), are one of hotPrefixes. first maps a
// line's first byte to j, 1 to 6 for the letters the hot names start with
// (either case), 0 for the rest: most lines (variable_*, Channel-*,
// Caller-*) stop at that load or at the next, the second byte's against
// second[j] (folded). words[2j] and words[2j+1] are the prefixes starting
// with that letter (the same one twice when there is one).
// index_amd64.s reads the struct by offsets: first at 0, second at 256,
// fold at 264, words at 272, avx2 at 384. avx2 tells it to use AVX2 (the
// CPU has it); it rides here because the filter is passed to every scan.
type hotFilter struct {
	first  [256]uint8
	second [8]uint8
	fold   uint64
	words  [14]uint64
	avx2   bool
	hot    [14]int8 // the hot header of each of words (Application for all four "applicat")
	// exact holds each hot name as FreeSWITCH spells it, for a compare of
	// three words instead of a loop over its bytes.
	exact [numHot]hotExact
}

// hotExact is a hot name's bytes at 0, mid (8, or n-8 if shorter) and n-8,
// as little-endian words, and its length n.
type hotExact struct {
	w      [3]uint64
	mid, n uint32
}

// hotLines is the filter of the hot headers; TestHotFilter checks it
// against hotPrefixes.
var hotLines = newHotFilter()

func newHotFilter() *hotFilter {
	f := &hotFilter{fold: foldWord, avx2: cpuAVX2()}
	j := uint8(0)
	for h, w := range hotPrefixes {
		c := byte(w) // the first byte, lowercase
		switch k := f.first[c]; {
		case k == 0:
			j++
			f.first[c], f.first[c-'a'+'A'] = j, j
			f.second[j] = byte(w >> 8)
			f.words[2*j], f.words[2*j+1] = w, w
			f.hot[2*j], f.hot[2*j+1] = int8(h), int8(h)
		case f.words[2*k] != w && f.words[2*k+1] == f.words[2*k]:
			f.words[2*k+1] = w
			f.hot[2*k+1] = int8(h)
		case f.words[2*k] != w && f.words[2*k+1] != w:
			panic("esl: more than two hot prefixes start with " + string(c))
		}
	}
	for k, name := range hotNames {
		n := len(name)
		mid := min(8, n-8)
		f.exact[k] = hotExact{w: [3]uint64{
			binary.LittleEndian.Uint64([]byte(name)),
			binary.LittleEndian.Uint64([]byte(name[mid:])),
			binary.LittleEndian.Uint64([]byte(name[n-8:])),
		}, mid: uint32(mid), n: uint32(n)}
	}
	return f
}

// notePicked records slot i, the line m.buf[ls:le] that hotLines picked,
// if it is the first occurrence of a hot header.
func (m *Message) notePicked(i, ls, le uint32) {
	if ls > le || le > uint32(len(m.buf)) || le-ls <= 8 {
		return // not picked: every hot name is eight bytes or more, then ':'
	}
	// Six of these per event, each a dozen loads: read the line through
	// one checked pointer (every offset below is < le-ls).
	n := le - ls
	base := unsafe.Pointer(&m.buf[ls])
	at := func(off uint32) byte { return *(*byte)(unsafe.Add(base, off)) }
	word := func(off uint32) uint64 { // one load: no length to check, as unsafe.Slice has
		return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(base, off))[:])
	}
	f := hotLines
	w := word(0)
	wi := 2 * int(f.first[at(0)])
	if w|f.fold != f.words[wi] {
		wi++
	}
	k := int(f.hot[wi])
	if k == hotApplication && n > 12 && at(11) == '-' { // or -UUID, -Data, -Response
		switch at(12) | 0x20 {
		case 'u':
			k = hotApplicationUUID
		case 'd':
			k = hotApplicationData
		case 'r':
			k = hotApplicationResponse
		}
	}
	if m.hot[k] != hotAbsent {
		return
	}
	x := &f.exact[k]
	if n <= x.n || at(x.n) != ':' {
		return
	}
	if w != x.w[0] || word(x.mid) != x.w[1] || word(x.n-8) != x.w[2] {
		if !equalFold(m.buf[ls:ls+x.n], hotNames[k]) {
			return
		}
	}
	m.hot[k] = hotOverflow
	if i+1 < hotOverflow {
		m.hot[k] = uint16(i + 1)
	}
}

// candidate tells whether the line b[p:le] starts like a hot header.
func (f *hotFilter) candidate(b []byte, p, le int) bool {
	j := f.first[b[p]]
	if j == 0 || le-p <= 8 || b[p+1]|0x20 != f.second[j] {
		return false
	}
	w := binary.LittleEndian.Uint64(b[p:]) | f.fold
	return w == f.words[2*j] || w == f.words[2*j+1]
}

// Why scanEventLines stopped.
const (
	scanEnd   = iota // b ended; p is where its last, unterminated line starts (or len(b))
	scanBlank        // the empty line at p
	scanFull         // slots or cand is full; call again from p
)

// hotBatch is how many hot-header candidates scanEventLines collects per
// call (a CHANNEL_EXECUTE_COMPLETE has about 15: Event-*, Application*,
// Core-UUID, Unique-ID); the batch lives on the stack.
const hotBatch = 32

// indexPlainLines indexes the header lines of a plain event from line
// start pos on into ends (where each line ends) from ends[i] on, which is
// slot base+i, stopping at an empty line, and
// notes the hot headers: scanEventLines records the lines and picks the
// candidates for a hot header, notePicked checks those. Lines are not checked
// for a colon: a line without one never matches a lookup.
//
// It returns the next free slot and the offset just past the empty line
// (the end of the frame if there was none), or, when ends is full, the
// start of the first line it could not record, and full.
func (m *Message) indexPlainLines(ends []uint32, pos, i, base uint32) (next, at uint32, full bool) {
	end := m.frameLen
	buf := m.buf[:end]
	var cand [hotBatch]uint32
	i0, pos0 := i, pos
	for {
		ni, p, nc, stop := scanEventLines(buf, int(pos), ends, int(i), hotLines, cand[:])
		for _, c := range cand[:nc] {
			ls := pos0 // the first line of this call
			if c > i0 {
				ls = ends[c-1] + 1
			}
			m.notePicked(base+c, ls, ends[c])
		}
		i, pos = uint32(ni), uint32(p)
		switch {
		case stop == scanBlank:
			return i, pos + 1, false
		case stop == scanFull && int(i) < len(ends):
			continue // candidates full: the next batch
		case stop == scanFull:
			return i, pos, true
		case pos < end: // a last line without its newline
			if int(i) == len(ends) {
				return i, pos, true
			}
			ends[i] = end
			if hotLines.candidate(buf, int(pos), int(end)) {
				m.notePicked(base+i, pos, end)
			}
			i++
		}
		return i, end, false
	}
}

// scanEventLinesGeneric records the lines of b from pos on into ends
// from slot i on (where each line ends: at its '\n'),
// until an empty line, the end of b, or no room in slots or cand. The
// lines the filter f picks have their slot noted in cand. It returns the
// next free slot, the offset where it stopped (see scanEnd, scanBlank,
// scanFull), and how many candidates it noted.
//
// It is the implementation where there is no assembly one, and the
// reference the assembly one is tested against.
func scanEventLinesGeneric(b []byte, pos int, ends []uint32, i int, f *hotFilter, cand []uint32) (ni, p, ncand, stop int) {
	p = pos
	for p < len(b) {
		nl := bytes.IndexByte(b[p:], '\n')
		if nl < 0 {
			break
		}
		le := p + nl
		if le == p {
			return i, p, ncand, scanBlank
		}
		if i >= len(ends) {
			return i, p, ncand, scanFull
		}
		ends[i] = uint32(le)
		if f.candidate(b, p, le) {
			if ncand == len(cand) {
				return i, p, ncand, scanFull
			}
			cand[ncand] = uint32(i)
			ncand++
		}
		i++
		p = le + 1
	}
	return i, p, ncand, scanEnd
}

// indexPlain indexes a text/event-plain body (header lines with
// percent-encoded values, a blank line, and, if the lines end with an
// inner Content-Length, that many bytes of event body) into pre, then
// gives m its own buffer and index; a body with more lines than pre holds
// is counted from where pre filled up and indexed on in the buffer.
func (m *Message) indexPlain(pre []uint32) (*Message, error) {
	end := m.frameLen
	n, next, full := m.indexPlainLines(pre, m.bodyStart, m.nOuter, 0)
	var h *Message
	if !full {
		m.nFields = n
		h = m.allocIndex(pre[:n], int(n), 0)
	} else {
		// More lines than pre holds: the message's index gets room for
		// every line left (the count may take in the event body too) and
		// the rest is indexed through pre again, a part at a time.
		rest := bytes.Count(m.buf[next:end], []byte{'\n'}) + 1
		h = m.allocIndex(pre[:n], int(n)+rest, 0)
		if len(pre) == 0 {
			pre = make([]uint32, hotBatch)
		}
		for full {
			var k uint32
			k, next, full = h.indexPlainLines(pre, next, 0, n)
			h.putEnds(n, pre[:k])
			n += k
		}
		h.nFields = n
	}
	// The inner Content-Length is a hot header: asked for by its index,
	// not by name (hotKey's name compare), unless the index cannot tell.
	vs, ve, ok, known := h.findHot(hotContentLength)
	if !known {
		vs, ve, ok = h.find(h.nOuter, n, "Content-Length")
	}
	if ok {
		l, err := parseLength(h.buf[vs:ve])
		if err != nil {
			return nil, fmt.Errorf("event body: %w", err)
		}
		if uint64(next)+uint64(l) > uint64(end) {
			return nil, fmt.Errorf("%w: event body of %d bytes overruns the message", ErrMalformed, l)
		}
		h.evBody = [2]uint32{next, next + uint32(l)}
		h.hasEvBody = true
	}
	return h, nil
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
	slots := m.pairs()
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
		if i-m.nOuter+2 > uint32(len(slots)) {
			return fmt.Errorf("%w: JSON event: too many fields", ErrMalformed)
		}
		slots[i-m.nOuter], slots[i-m.nOuter+1] = [2]uint32{ks, ke}, [2]uint32{vs, ve}
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
