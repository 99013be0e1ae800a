package esl

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"iter"
	"strings"
	"unsafe"
)

// Kind classifies a message by its outer Content-Type.
type Kind uint8

// Message kinds.
const (
	KindUnknown          Kind = iota // a Content-Type this package does not know (or none)
	KindAuthRequest                  // auth/request
	KindCommandReply                 // command/reply
	KindAPIResponse                  // api/response
	KindEvent                        // text/event-plain, text/event-json, text/event-xml
	KindDisconnectNotice             // text/disconnect-notice
)

func (k Kind) String() string {
	switch k {
	case KindAuthRequest:
		return "auth/request"
	case KindCommandReply:
		return "command/reply"
	case KindAPIResponse:
		return "api/response"
	case KindEvent:
		return "event"
	case KindDisconnectNotice:
		return "disconnect-notice"
	}
	return "unknown"
}

// Format is the serialization of an event's headers.
type Format uint8

// Event formats. FormatNone is a message that is not an event; its "event
// headers" are its outer headers, verbatim. FormatChannelData is the
// outbound connect reply: its outer headers are a CHANNEL_DATA event with
// percent-encoded values.
const (
	FormatNone Format = iota
	FormatPlain
	FormatJSON
	FormatXML
	FormatChannelData
)

// The header index, after the frame bytes in the message's buffer. Header
// lines follow each other, so a line starts just past the end of the one
// before it (the first outer line at 0 or after the command line, the
// first event line at the event body): the index keeps only where each
// line ends, a uint16 when the frame is shorter than 64 KiB (nearly all:
// a CHANNEL_EXECUTE_COMPLETE is ~3.2 KB), else a uint32, little-endian.
// Two bytes a line instead of the eight of a start and end pair keep the
// real 3.2 KB event's buffer in the 3,456-byte size class instead of the
// 4,096-byte one, whose spans hold two objects (the allocator refilled its
// span every other message). JSON fields are not lines: each takes two
// slots (key start/end, value start/end) of two uint32s, in an array after
// the outer line ends.
const (
	narrowEnd = 2 // bytes per line end in a frame of up to maxNarrow bytes
	wideEnd   = 4
	maxNarrow = 0xFFFF
	slotSize  = 8 // bytes per JSON slot
)

// Message is one ESL message: a reply, an api response, a disconnect
// notice or an event. One type for all of them keeps the hot path (read a
// frame, look at a few headers) at two allocations; Kind tells them
// apart.
//
// Two header sets: OuterHeader reads the frame's own header block
// (Content-Type, Content-Length, Reply-Text); Get, Lookup and EventHeaders
// read the event inside (Event-Name, Unique-ID, variable_*), decoded. For a
// message that is not an event they read the outer headers verbatim.
//
// Its bytes are copied once from the socket
// into a buffer the message owns, the header lines are indexed by offsets
// (stored in the same buffer, after the frame bytes), and values are decoded
// only when asked for. A Message is immutable after parsing and safe for
// concurrent readers; strings and byte slices it returns alias its buffer
// and must not be modified.
type Message struct {
	buf       []byte // frame bytes, then the field index
	frameLen  uint32
	idxOff    uint32 // where the line ends start
	pairOff   uint32 // JSON events: where the field slots start
	nOuter    uint32 // slots [0, nOuter) are outer header lines
	nFields   uint32 // slots [nOuter, nFields) are event headers
	bodyStart uint32 // outer body
	evBody    [2]uint32
	hasEvBody bool
	wide      bool   // line ends are uint32s (a frame longer than maxNarrow)
	cmdLen    uint32 // length of a leading command line (client commands)
	kind      Kind
	format    Format
	hot       [numHot]uint16 // plain events: slot+1 of each hot header (see lookup.go)
}

// Kind reports what the message is, by its Content-Type.
func (m *Message) Kind() Kind { return m.kind }

// Format reports how the event headers are serialized.
func (m *Message) Format() Format { return m.format }

// ContentType is the outer Content-Type header (empty if absent).
func (m *Message) ContentType() string { return m.OuterHeader("Content-Type") }

// Raw returns the message exactly as it was on the wire.
func (m *Message) Raw() []byte { return m.buf[:m.frameLen:m.frameLen] }

// OuterHeader returns a header of the frame's own header block verbatim
// (not decoded), matching the name case-insensitively; "" if absent.
func (m *Message) OuterHeader(name string) string {
	v, _ := m.lookupRaw(0, m.nOuter, name)
	return v
}

// commandLine is the first line of a client command ("sendmsg <uuid>",
// "api status"), or "" for messages from FreeSWITCH. Tests use it (see
// export_test.go) to read what a client sent with the same Reader.
func (m *Message) commandLine() string { return bytesString(m.buf[:m.cmdLen]) }

// ReplyText is the Reply-Text header of a command/reply.
func (m *Message) ReplyText() string { return m.OuterHeader("Reply-Text") }

// Name is the event name (Event-Name), e.g. CHANNEL_EXECUTE_COMPLETE.
func (m *Message) Name() string { return m.Get("Event-Name") }

// Subclass is Event-Subclass, set on CUSTOM events (e.g. "fifo::info").
func (m *Message) Subclass() string { return m.Get("Event-Subclass") }

// Get returns the decoded value of an event header, matched
// case-insensitively; "" when absent or when FreeSWITCH sent _undef_.
func (m *Message) Get(name string) string {
	v, _ := m.Lookup(name)
	return v
}

// Lookup is Get that also reports whether the header was present.
//
// Plain events and the channel data are percent-decoded (%XX only: "+" stays
// "+"); JSON values are JSON-unescaped; a non-event message answers from its
// outer headers verbatim.
func (m *Message) Lookup(name string) (string, bool) {
	switch m.format {
	case FormatPlain:
		return m.lookupDecoded(m.nOuter, m.nFields, name, decodePercent)
	case FormatChannelData:
		return m.lookupDecoded(0, m.nOuter, name, decodePercent)
	case FormatJSON:
		return m.lookupDecoded(m.nOuter, m.nFields, name, m.decodeJSONValue)
	case FormatXML:
		return m.lookupXML(name)
	}
	return m.lookupRaw(0, m.nOuter, name)
}

// Body is the event's body (the inner body of a plain event such as
// BACKGROUND_JOB, "_body" of a JSON event), or the outer body of a message
// that is not an event (api/response text, disconnect notice text).
func (m *Message) Body() []byte {
	switch m.format {
	case FormatPlain:
		if !m.hasEvBody {
			return nil
		}
		return m.buf[m.evBody[0]:m.evBody[1]:m.evBody[1]]
	case FormatJSON:
		v, ok := m.Lookup("_body")
		if !ok {
			return nil
		}
		return unsafe.Slice(unsafe.StringData(v), len(v))
	case FormatXML:
		x := m.parseXML()
		if x == nil || x.Body == "" {
			return nil
		}
		return []byte(x.Body)
	}
	return m.OuterBody()
}

// OuterBody is the Content-Length bytes after the outer header block; for
// an event that is the serialized event itself.
func (m *Message) OuterBody() []byte {
	if m.bodyStart >= m.frameLen {
		return nil
	}
	return m.buf[m.bodyStart:m.frameLen:m.frameLen]
}

// EventHeaders iterates over the event headers in wire order, values
// decoded as by Get. For a message that is not an event it yields the outer
// headers verbatim.
func (m *Message) EventHeaders() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		lo, hi := m.nOuter, m.nFields
		decode := func(b []byte) string { return bytesString(b) }
		switch m.format {
		case FormatPlain:
			decode = decodePercent
		case FormatChannelData:
			lo, hi, decode = 0, m.nOuter, decodePercent
		case FormatJSON:
			for i := lo; i+1 < hi; i += 2 {
				ks, ke := m.slot(i)
				vs, ve := m.slot(i + 1)
				if !yield(m.decodeJSONValue(m.buf[ks:ke]), m.decodeJSONValue(m.buf[vs:ve])) {
					return
				}
			}
			return
		case FormatXML:
			if x := m.parseXML(); x != nil {
				for _, h := range x.Headers.Fields {
					if !yield(h.XMLName.Local, undef(h.Value)) {
						return
					}
				}
			}
			return
		default:
			lo, hi = 0, m.nOuter
		}
		for i := lo; i < hi; i++ {
			ls, le := m.slot(i)
			line := m.buf[ls:le]
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				continue // not a header line; Get never matches it either
			}
			vs, ve := lineValue(m.buf, ls+uint32(colon), le)
			if !yield(bytesString(line[:colon]), decode(m.buf[vs:ve])) {
				return
			}
		}
	}
}

// String summarizes the message for logs.
func (m *Message) String() string {
	if m.kind == KindEvent {
		return fmt.Sprintf("event %s", m.Name())
	}
	return fmt.Sprintf("%s %q", m.kind, m.ReplyText())
}

// slot returns the span of slot i: header line i, or a JSON key or value.
func (m *Message) slot(i uint32) (a, b uint32) {
	if m.format == FormatJSON && i >= m.nOuter {
		s := m.pairs()[i-m.nOuter]
		return s[0], s[1]
	}
	return m.lineStart(i), m.lineEnd(i)
}

// lineEnd is where header line i ends (its '\n', or the frame's end).
func (m *Message) lineEnd(i uint32) uint32 {
	if m.wide {
		return binary.LittleEndian.Uint32(m.buf[m.idxOff+wideEnd*i:])
	}
	return uint32(binary.LittleEndian.Uint16(m.buf[m.idxOff+narrowEnd*i:]))
}

// lineStart is where header line i starts: past the end of line i-1, but
// the first outer line after the command line (if any) and the first
// event line at the event body.
func (m *Message) lineStart(i uint32) uint32 {
	switch {
	case i == m.nOuter:
		return m.bodyStart
	case i > 0:
		return m.lineEnd(i-1) + 1
	case m.cmdLen > 0:
		return m.cmdLen + 1
	}
	return 0
}

// pairs is a JSON event's field slots: pairs()[k] is slot nOuter+k.
func (m *Message) pairs() [][2]uint32 {
	n := (len(m.buf) - int(m.pairOff)) / slotSize
	if m.format != FormatJSON || n <= 0 {
		return nil
	}
	return unsafe.Slice((*[2]uint32)(unsafe.Pointer(&m.buf[m.pairOff])), n)
}

// lineValue returns the value span of a header line whose colon is at
// colon: leading blanks and a trailing CR are not part of it.
func lineValue(buf []byte, colon, end uint32) (uint32, uint32) {
	vs := min(colon+1, end)
	for vs < end && (buf[vs] == ' ' || buf[vs] == '\t') {
		vs++
	}
	if end > vs && buf[end-1] == '\r' {
		end--
	}
	return vs, end
}

// find returns the value span of the first header in slots [lo, hi) whose
// name equals name case-insensitively.
func (m *Message) find(lo, hi uint32, name string) (vs, ve uint32, ok bool) {
	if name == "" {
		return 0, 0, false
	}
	if m.format == FormatPlain && lo == m.nOuter && hi == m.nFields {
		if k := hotKey(name); k >= 0 {
			if vs, ve, found, ok := m.findHot(k); ok {
				return vs, ve, found
			}
		}
	}
	n := uint32(len(name))
	first := lowerASCII(name[0])
	if m.format == FormatJSON && lo >= m.nOuter {
		slots := m.pairs()
		for i := lo - m.nOuter; i+1 < hi-m.nOuter; i += 2 {
			ks, ke := slots[i][0], slots[i][1]
			key := m.buf[ks:ke]
			if bytes.IndexByte(key, '\\') >= 0 { // escaped key (never seen from FreeSWITCH): compare decoded
				if ke-ks < n || ke-ks > 6*n {
					continue
				}
				if !strings.EqualFold(m.decodeJSONValue(key), name) {
					continue
				}
			} else if ke-ks != n || lowerASCII(m.buf[ks]) != first || !equalFold(key, name) {
				continue
			}
			return slots[i+1][0], slots[i+1][1], true
		}
		return 0, 0, false
	}
	if lo >= hi {
		return 0, 0, false
	}
	ls := m.lineStart(lo)
	for i := lo; i < hi; i++ {
		le := m.lineEnd(i)
		if le-ls > n && m.buf[ls+n] == ':' && lowerASCII(m.buf[ls]) == first && equalFold(m.buf[ls:ls+n], name) {
			vs, ve := lineValue(m.buf, ls+n, le)
			return vs, ve, true
		}
		ls = le + 1
	}
	return 0, 0, false
}

func (m *Message) lookupRaw(lo, hi uint32, name string) (string, bool) {
	vs, ve, ok := m.find(lo, hi, name)
	if !ok {
		return "", false
	}
	return bytesString(m.buf[vs:ve]), true
}

func (m *Message) lookupDecoded(lo, hi uint32, name string, decode func([]byte) string) (string, bool) {
	vs, ve, ok := m.find(lo, hi, name)
	if !ok {
		return "", false
	}
	return decode(m.buf[vs:ve]), true
}

// decodeJSONValue decodes a value span of a JSON event: string contents
// (between the quotes) are unescaped, other values are returned as raw JSON.
func (m *Message) decodeJSONValue(v []byte) string {
	if bytes.IndexByte(v, '\\') < 0 {
		return undef(bytesString(v))
	}
	start := int(uintptr(unsafe.Pointer(unsafe.SliceData(v))) - uintptr(unsafe.Pointer(unsafe.SliceData(m.buf))))
	if start == 0 || m.buf[start-1] != '"' {
		return bytesString(v)
	}
	var s string
	if err := json.Unmarshal(m.buf[start-1:start+len(v)+1], &s); err != nil {
		return bytesString(v)
	}
	return undef(s)
}

type xmlEvent struct {
	Headers struct {
		Fields []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"headers"`
	Body string `xml:"body"`
}

// parseXML decodes an XML event on each call: XML events are rare (plain and
// JSON are what fsivr subscribes to), so they are not indexed.
func (m *Message) parseXML() *xmlEvent {
	var x xmlEvent
	if err := xml.Unmarshal(m.OuterBody(), &x); err != nil {
		return nil
	}
	return &x
}

func (m *Message) lookupXML(name string) (string, bool) {
	x := m.parseXML()
	if x == nil {
		return "", false
	}
	for _, h := range x.Headers.Fields {
		if strings.EqualFold(h.XMLName.Local, name) {
			return undef(h.Value), true
		}
	}
	return "", false
}

// bytesString views b as a string without copying. Safe because message
// buffers are never written after parsing.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func undef(s string) string {
	if s == "_undef_" {
		return ""
	}
	return s
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFold(b []byte, s string) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != s[i] && lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// decodePercent decodes %XX escapes (and nothing else: FreeSWITCH encodes a
// space as %20, so "+" is a literal plus). A "%" not followed by two hex
// digits is kept as is. "_undef_" means an empty value.
func decodePercent(v []byte) string {
	i := bytes.IndexByte(v, '%')
	if i < 0 {
		return undef(bytesString(v))
	}
	out := make([]byte, 0, len(v))
	out = append(out, v[:i]...)
	for ; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) {
			hi, ok1 := unhex(v[i+1])
			lo, ok2 := unhex(v[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, c)
	}
	return unsafe.String(unsafe.SliceData(out), len(out))
}

// DecodeValue percent-decodes a value as FreeSWITCH encodes plain event
// headers (exported for callers holding raw header text).
func DecodeValue(v string) string {
	return decodePercent([]byte(v)) // the conversion copied v, so aliasing it is safe
}
