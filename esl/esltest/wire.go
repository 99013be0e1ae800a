package esltest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fsivr/fsivr/internal/lineio"
)

// This file is the fake's own view of the wire: a reader for the commands a
// client sends and an encoder for what FreeSWITCH sends. It deliberately shares
// no code with package esl, so a framing bug there is not mirrored here.

// ErrCommandTooLarge is returned when a client command exceeds the size limits
// the fake accepts (FreeSWITCH has similar fixed buffers).
var ErrCommandTooLarge = errors.New("esltest: command too large")

const (
	maxCommandLine  = 64 << 10
	maxCommandBody  = 1 << 20
	maxCommandLines = 256
)

// command is one client command: its first line, its header lines (names as
// sent, looked up case-insensitively like FreeSWITCH does) and an optional body.
type command struct {
	line    string
	headers []header
	body    string
	raw     string
}

// get returns the first header named name, compared case-insensitively.
func (c *command) get(name string) string {
	for _, h := range c.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// verb is the first word of the command line, lowercased.
func (c *command) verb() string {
	v, _, _ := strings.Cut(c.line, " ")
	return strings.ToLower(v)
}

// arg is everything after the first word of the command line.
func (c *command) arg() string {
	_, a, _ := strings.Cut(c.line, " ")
	return strings.TrimSpace(a)
}

// readCommand reads one command: lines up to an empty line, then, when a
// Content-Length header is present, exactly that many body bytes. CR before LF
// is tolerated. Blank lines before a command are skipped, as FreeSWITCH does.
func readCommand(r *bufio.Reader) (*command, error) {
	var raw strings.Builder
	var cmd *command
	for lines := 0; ; lines++ {
		if lines > maxCommandLines {
			return nil, ErrCommandTooLarge
		}
		line, err := readLine(r)
		if err != nil {
			if cmd != nil && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		raw.WriteString(line)
		raw.WriteByte('\n')
		if line == "" {
			if cmd == nil {
				raw.Reset()
				continue
			}
			break
		}
		if cmd == nil {
			cmd = &command{line: strings.TrimSpace(line)}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		cmd.headers = append(cmd.headers, header{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	if cl := cmd.get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("esltest: bad Content-Length %q in command", cl)
		}
		if n > maxCommandBody {
			return nil, ErrCommandTooLarge
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("esltest: reading command body: %w", err)
		}
		cmd.body = string(body)
		raw.Write(body)
	}
	cmd.raw = raw.String()
	return cmd, nil
}

// newRecord is what a test sees of a command (Call.Commands,
// Server.Commands).
func newRecord(cmd *command) Record {
	rec := Record{At: time.Now(), Verb: cmd.verb(), Raw: cmd.raw, Headers: make(map[string]string, len(cmd.headers))}
	for _, h := range cmd.headers {
		rec.Headers[strings.ToLower(h.name)] = h.value
	}
	if rec.Verb == "sendmsg" && strings.EqualFold(cmd.get("call-command"), "execute") {
		rec.App = cmd.get("execute-app-name")
		rec.Arg = execArg(cmd)
		rec.EventUUID = cmd.get("Event-UUID")
	}
	return rec
}

func readLine(r *bufio.Reader) (string, error) {
	return lineio.ReadLine(r, maxCommandLine, ErrCommandTooLarge)
}

// header is one name/value pair in the order FreeSWITCH emits it.
type header struct{ name, value string }

// headerList is an ordered list with FreeSWITCH's channel-variable semantics:
// setting a name removes the old entry and appends the new one at the bottom.
type headerList []header

func (l *headerList) add(name, value string) { *l = append(*l, header{name, value}) }

func (l *headerList) set(name, value string) {
	l.del(name)
	l.add(name, value)
}

func (l *headerList) del(name string) {
	out := (*l)[:0]
	for _, h := range *l {
		if h.name != name {
			out = append(out, h)
		}
	}
	*l = out
}

func (l headerList) get(name string) (string, bool) {
	for _, h := range l {
		if h.name == name {
			return h.value, true
		}
	}
	return "", false
}

// urlEncode is switch_url_encode as FreeSWITCH 1.10 applies it to plain event
// values: bytes outside 0x20..0x7E and the reserved set are %XX-encoded, and
// a '%' already followed by two hex digits is left alone (lossy, like FS).
func urlEncode(s string) string {
	const reserved = "\r\n #%&+:;<=>?@[\\]^`{|}\""
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		if c < 0x20 || c > 0x7e || strings.IndexByte(reserved, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// eventMsg is one FreeSWITCH event: ordered headers and an optional body
// (BACKGROUND_JOB carries the api output there).
type eventMsg struct {
	headers headerList
	body    string
}

func (e *eventMsg) name() string {
	v, _ := e.headers.get("Event-Name")
	return v
}

// encodePlain renders the event as a text/event-plain message.
func (e *eventMsg) encodePlain() []byte {
	var inner bytes.Buffer
	for _, h := range e.headers {
		v := h.value
		if v == "" {
			v = "_undef_"
		} else {
			v = urlEncode(v)
		}
		inner.WriteString(h.name)
		inner.WriteString(": ")
		inner.WriteString(v)
		inner.WriteByte('\n')
	}
	if e.body != "" {
		fmt.Fprintf(&inner, "Content-Length: %d\n\n", len(e.body))
		inner.WriteString(e.body)
	} else {
		inner.WriteByte('\n')
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "Content-Length: %d\nContent-Type: text/event-plain\n\n", inner.Len())
	out.Write(inner.Bytes())
	return out.Bytes()
}

// encodeJSON renders the event as text/event-json: one compact object in
// header order, every value a string, the body under "_body", no trailing
// newline, values not URL-encoded.
func (e *eventMsg) encodeJSON() []byte {
	var inner bytes.Buffer
	inner.WriteByte('{')
	for i, h := range e.headers {
		if i > 0 {
			inner.WriteByte(',')
		}
		writeJSONString(&inner, h.name)
		inner.WriteByte(':')
		writeJSONString(&inner, h.value)
	}
	if e.body != "" {
		inner.WriteString(`,"Content-Length":`)
		writeJSONString(&inner, strconv.Itoa(len(e.body)))
		inner.WriteString(`,"_body":`)
		writeJSONString(&inner, e.body)
	}
	inner.WriteByte('}')
	var out bytes.Buffer
	fmt.Fprintf(&out, "Content-Length: %d\nContent-Type: text/event-json\n\n", inner.Len())
	out.Write(inner.Bytes())
	return out.Bytes()
}

// writeJSONString escapes like cJSON: quotes, backslash and control bytes;
// '/', '<', '>' and '&' stay literal.
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// goodbye is the body of every disconnect notice that closes a connection.
const goodbye = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

func encodeReply(text string) []byte {
	return []byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

func encodeJobReply(jobUUID string) []byte {
	return []byte("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + jobUUID + "\nJob-UUID: " + jobUUID + "\n\n")
}

func encodeAPI(body string) []byte {
	return []byte(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

func encodeAuthRequest() []byte { return []byte("Content-Type: auth/request\n\n") }

// encodeGoodbye is the inbound (no session) disconnect notice.
func encodeGoodbye() []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s", len(goodbye), goodbye))
}

// encodeSessionGoodbye is the outbound notice sent right before FS closes.
func encodeSessionGoodbye(uuid string) []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\nContent-Disposition: disconnect\nContent-Length: %d\n\n%s", uuid, len(goodbye), goodbye))
}

// encodeLingerNotice is the outbound notice sent after hangup when lingering.
func encodeLingerNotice(uuid, channelName string, lingerSecs int) []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\nContent-Disposition: linger\nChannel-Name: %s\nLinger-Time: %d\nContent-Length: 0\n\n", uuid, channelName, lingerSecs))
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
