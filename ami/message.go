package ami

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"strings"
	"unsafe"
)

// Kind classifies a message.
type Kind uint8

// Message kinds. An Event header wins: OriginateResponse carries Event,
// Response and ActionID and is an event, never an action's reply.
const (
	KindUnknown  Kind = iota // neither Event, Response nor Action
	KindEvent                // has an Event header
	KindResponse             // has Response and no Event: an action's reply
	KindAction               // has Action (what a client sends)
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindResponse:
		return "response"
	case KindAction:
		return "action"
	}
	return "unknown"
}

// hasFollows marks a `Response: Follows` message whose output was found.
const hasFollows uint8 = 1 << 7

// slotSize is the size of one index slot: the start and end offsets of a
// header line (end excludes the CR). Name and value are split at lookup
// time, which is cheaper than splitting every line up front.
const slotSize = 8

// Message is one AMI message. Its bytes are copied once from the socket
// into a buffer the message owns, followed by the index of its header
// lines; nothing is decoded until asked for. A Message is immutable and
// safe for concurrent readers; the strings it returns alias its buffer.
type Message struct {
	buf      []byte // frame bytes, then n index slots
	frameLen uint32
	n        uint32
	body     [2]uint32 // Follows output
	flags    uint8
}

// ParseMessage parses the first message in b and reports how many bytes it
// used (blank lines before it included). A b that holds less than a whole
// message gives io.ErrUnexpectedEOF.
func ParseMessage(b []byte) (*Message, int, error) {
	r := NewReader(bytes.NewReader(b), len(b)+1)
	m, err := r.ReadMessage()
	if err != nil {
		return nil, 0, err
	}
	return m, len(b) - r.Buffered(), nil
}

// Kind reports whether the message is an event, a response or an action.
func (m *Message) Kind() Kind {
	switch {
	case m.flags&hasEvent != 0:
		return KindEvent
	case m.flags&hasResponse != 0:
		return KindResponse
	case m.flags&hasAction != 0:
		return KindAction
	}
	return KindUnknown
}

// IsEvent reports whether the message has an Event header (whatever else
// it has: OriginateResponse also carries Response and ActionID).
func (m *Message) IsEvent() bool { return m.flags&hasEvent != 0 }

// Name is the Event header ("Hangup"), "" for responses.
func (m *Message) Name() string { return m.Get("Event") }

// Response is the Response header ("Success", "Error", "Failure" in
// OriginateResponse, "Goodbye", "Follows").
func (m *Message) Response() string { return m.Get("Response") }

// ActionID is the ActionID header.
func (m *Message) ActionID() string { return m.Get("ActionID") }

// Raw returns the message exactly as it was on the wire, its empty line
// included.
func (m *Message) Raw() []byte { return m.buf[:m.frameLen:m.frameLen] }

// Len is the number of header lines.
func (m *Message) Len() int { return int(m.n) }

// Get returns the value of the first header named name, matched
// case-insensitively (Asterisk sends both Uniqueid and UniqueID); "" when
// absent. The value is the rest of the line after the colon and one
// space (`Key:Value` and `Key: Value` read the same; further spaces are
// kept, as in indented Command Output lines); an empty value is "".
func (m *Message) Get(name string) string {
	v, _ := m.Lookup(name)
	return v
}

// Lookup is Get that also reports whether the header was present.
func (m *Message) Lookup(name string) (string, bool) {
	if _, vs, ve, ok := m.find(0, name); ok {
		return bytesString(m.buf[vs:ve]), true
	}
	return "", false
}

// Values returns every value of a repeated header in wire order (Output
// lines of Command, ChanVariable lines); nil when absent.
func (m *Message) Values(name string) []string {
	var vals []string
	for i := uint32(0); ; i++ {
		at, vs, ve, ok := m.find(i, name)
		if !ok {
			return vals
		}
		vals = append(vals, bytesString(m.buf[vs:ve]))
		i = at
	}
}

// Headers iterates over all header lines in wire order.
func (m *Message) Headers() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := uint32(0); i < m.n; i++ {
			ls, le := m.slot(i)
			colon := ls + uint32(bytes.IndexByte(m.buf[ls:le], ':'))
			vs := skipBlanks(m.buf, colon+1, le)
			if !yield(bytesString(m.buf[ls:colon]), bytesString(m.buf[vs:le])) {
				return
			}
		}
	}
}

// Var returns the channel variable name as Asterisk reports it in
// manager `channelvars` headers: `ChanVariable: NAME=value`, or
// `ChanVariable(<channel>): NAME=value` in OriginateResponse. The first
// match wins.
func (m *Message) Var(name string) (string, bool) {
	const cv = "chanvariable"
	for i := uint32(0); i < m.n; i++ {
		ls, le := m.slot(i)
		line := m.buf[ls:le]
		if len(line) <= len(cv) || !equalFold(line[:len(cv)], cv) || (line[len(cv)] != ':' && line[len(cv)] != '(') {
			continue
		}
		colon := ls + uint32(bytes.IndexByte(line, ':'))
		if line[len(cv)] == '(' && (colon < ls+2 || m.buf[colon-1] != ')') {
			continue
		}
		vs := skipBlanks(m.buf, colon+1, le)
		v := m.buf[vs:le]
		if eq := bytes.IndexByte(v, '='); eq == len(name) && strings.EqualFold(bytesString(v[:eq]), name) {
			return bytesString(v[eq+1:]), true
		}
	}
	return "", false
}

// Output returns the output lines of a Command reply: the Output headers
// of Asterisk 14 and later, or the text between the headers and
// `--END COMMAND--` of the older `Response: Follows` form.
func (m *Message) Output() []string {
	if m.flags&hasFollows == 0 {
		return m.Values("Output")
	}
	text := bytesString(m.buf[m.body[0]:m.body[1]])
	text = strings.TrimRight(text, "\r\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// String summarizes the message for logs (never its values: an action may
// hold a secret).
func (m *Message) String() string {
	switch m.Kind() {
	case KindEvent:
		return "event " + m.Name()
	case KindResponse:
		return fmt.Sprintf("response %s %q", m.Response(), m.ActionID())
	case KindAction:
		return "action " + m.Get("Action")
	}
	return "message"
}

func (m *Message) slot(i uint32) (a, b uint32) {
	s := m.buf[m.frameLen+i*slotSize:][:slotSize]
	return binary.LittleEndian.Uint32(s), binary.LittleEndian.Uint32(s[4:])
}

// find returns the slot and value span of the first header at slot from
// or later whose name equals name case-insensitively.
func (m *Message) find(from uint32, name string) (at, vs, ve uint32, ok bool) {
	if name == "" {
		return 0, 0, 0, false
	}
	n := uint32(len(name))
	first := lowerASCII(name[0])
	idx := m.buf[m.frameLen:]
	for i := from; i < m.n; i++ {
		s := idx[i*slotSize:][:slotSize]
		ls, le := binary.LittleEndian.Uint32(s), binary.LittleEndian.Uint32(s[4:])
		if le-ls < n+1 || m.buf[ls+n] != ':' || lowerASCII(m.buf[ls]) != first {
			continue
		}
		if equalFold(m.buf[ls:ls+n], name) {
			return i, skipBlanks(m.buf, ls+n+1, le), le, true
		}
	}
	return 0, 0, 0, false
}

// skipBlanks skips the one space after the colon: the value is the rest
// of the line, so the indentation of Command Output lines is kept.
func skipBlanks(b []byte, p, end uint32) uint32 {
	if p < end && b[p] == ' ' {
		p++
	}
	return p
}

// bytesString views b as a string without copying. Safe because message
// buffers are never written after parsing.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
