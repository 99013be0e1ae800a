package amitest

import (
	"bufio"
	"bytes"
	"errors"
	"strings"

	"github.com/fsivr/fsivr/internal/lineio"
)

// This file is the fake's own view of the wire: a reader for the actions a
// client sends and an encoder for what Asterisk sends. It shares no code
// with package ami, so a framing bug there is not mirrored here.

// errActionTooLarge ends a session whose action exceeds the fake's limits.
var errActionTooLarge = errors.New("amitest: action too large")

const (
	maxActionLine    = 16 << 10
	maxActionHeaders = 512
)

// readAction reads one action: lines up to an empty line. Lines end in LF
// with an optional CR (Asterisk accepts LF-only requests); `Key:Value`
// without the space and lower-case names are accepted. Empty messages
// (blank lines between actions) are skipped. A line without a colon is
// ignored, as Asterisk does.
func readAction(r *bufio.Reader) ([]Header, error) {
	var hs []Header
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if line == "" {
			if len(hs) == 0 {
				continue
			}
			return hs, nil
		}
		if len(hs) >= maxActionHeaders {
			return nil, errActionTooLarge
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		hs = append(hs, Header{strings.TrimSpace(name), strings.TrimLeft(value, " ")})
	}
}

func readLine(r *bufio.Reader) (string, error) {
	return lineio.ReadLine(r, maxActionLine, errActionTooLarge)
}

func getHeader(hs []Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func hasHeader(hs []Header, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

func allHeaders(hs []Header, name string) []string {
	var out []string
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			out = append(out, h.Value)
		}
	}
	return out
}

// encode renders a message as Asterisk does: `Name: Value` CRLF lines and a
// blank line. An empty value keeps its trailing space (`AccountCode: `).
func encode(hs []Header) []byte {
	n := 2
	for _, h := range hs {
		n += len(h.Name) + len(h.Value) + 4
	}
	b := make([]byte, 0, n)
	for _, h := range hs {
		b = append(b, h.Name...)
		b = append(b, ": "...)
		b = append(b, h.Value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// response builds `Response: <r>`, the ActionID when the action had one, then
// the rest, in the captured order.
func response(r, actionID string, rest ...Header) []Header {
	hs := make([]Header, 0, 2+len(rest))
	hs = append(hs, Header{"Response", r})
	if actionID != "" {
		hs = append(hs, Header{"ActionID", actionID})
	}
	return append(hs, rest...)
}

func success(actionID, message string) []byte {
	return encode(response("Success", actionID, Header{"Message", message}))
}

func failure(actionID, message string) []byte {
	return encode(response("Error", actionID, Header{"Message", message}))
}

// bareLFMessage is the captured quirk of Park and QueueMemberRingInUse
// replies: the Message line ends in a bare LF, then CRLF CRLF.
func bareLFMessage(resp, actionID, message string) []byte {
	var b bytes.Buffer
	b.WriteString("Response: " + resp + "\r\n")
	if actionID != "" {
		b.WriteString("ActionID: " + actionID + "\r\n")
	}
	b.WriteString("Message: " + message + "\n\r\n\r\n")
	return b.Bytes()
}

// event is one event ready to send: its name, class (for EventMask), the
// headers (Event and Privilege first) and the encoded bytes, shared by every
// session it goes to.
type event struct {
	name    string
	class   string
	headers []Header
	raw     []byte
}

func newEvent(name, class string, rest []Header) *event {
	hs := make([]Header, 0, 2+len(rest))
	hs = append(hs, Header{"Event", name})
	if class != "" {
		hs = append(hs, Header{"Privilege", class + ",all"})
	}
	hs = append(hs, rest...)
	return &event{name: name, class: class, headers: hs, raw: encode(hs)}
}

// listItem is an event sent as a list item: no Privilege header, ActionID
// at the place the captures show (second or last).
func listItem(name, actionID string, actionIDLast bool, rest []Header) []byte {
	hs := make([]Header, 0, 2+len(rest))
	hs = append(hs, Header{"Event", name})
	if !actionIDLast && actionID != "" {
		hs = append(hs, Header{"ActionID", actionID})
	}
	hs = append(hs, rest...)
	if actionIDLast && actionID != "" {
		hs = append(hs, Header{"ActionID", actionID})
	}
	return encode(hs)
}
