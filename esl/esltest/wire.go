package esltest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
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
	i := slices.IndexFunc(*l, func(h header) bool { return h.name == name })
	if i < 0 {
		return // nothing moves: no copying (and no write barriers) for a miss
	}
	out := (*l)[:i]
	for _, h := range (*l)[i+1:] {
		if h.name != name {
			out = append(out, h)
		}
	}
	clear((*l)[len(out):]) // drop the references the list no longer holds
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
func urlEncode(s string) string { return string(appendURLEncoded(nil, s)) }

// urlReserved marks the bytes switch_url_encode encodes: outside 0x20..0x7E
// and "\r\n #%&+:;<=>?@[\\]^`{|}\"" ('%' is decided by what follows it).
var urlReserved = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c < 0x20 || c > 0x7e
	}
	for _, c := range []byte("\r\n #%&+:;<=>?@[\\]^`{|}\"") {
		t[c] = true
	}
	return t
}()

// appendURLEncoded appends urlEncode(s) to dst. Most values need no
// encoding and are appended whole: this runs for every header of every
// event the load tool's fake channels send.
func appendURLEncoded(dst []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	i := 0
	for i < len(s) && !urlReserved[s[i]] {
		i++
	}
	if i == len(s) {
		return append(dst, s...)
	}
	dst = append(dst, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			dst = append(dst, c)
		case urlReserved[c]:
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// headerSink receives an event's headers in wire order: a headerList
// collects them (filters, JSON, the inbound server), a plainEncoder
// writes them straight to the text/event-plain wire form, so the
// outbound session's hot path builds no list and no per-value strings.
type headerSink interface {
	add(name, value string)
	// addPrefixed adds the header named prefix+name (variable_*, the
	// caller profile's Caller-* and Channel-*).
	addPrefixed(prefix, name, value string)
	addInt(name string, v int64)
	addIntPrefixed(prefix, name string, v int64)
}

func (l *headerList) addPrefixed(prefix, name, value string) { l.add(prefix+name, value) }
func (l *headerList) addInt(name string, v int64)            { l.add(name, strconv.FormatInt(v, 10)) }
func (l *headerList) addIntPrefixed(prefix, name string, v int64) {
	l.add(prefix+name, strconv.FormatInt(v, 10))
}

// plainEncoder appends headers as plain event lines: "Name: value\n",
// values URL-encoded, empty ones as _undef_.
type plainEncoder struct{ b []byte }

func (e *plainEncoder) add(name, value string) {
	e.b = append(e.b, name...)
	e.value(value)
}

func (e *plainEncoder) addPrefixed(prefix, name, value string) {
	e.b = append(e.b, prefix...)
	e.b = append(e.b, name...)
	e.value(value)
}

func (e *plainEncoder) value(v string) {
	e.b = append(e.b, ':', ' ')
	if v == "" {
		e.b = append(e.b, "_undef_"...)
	} else {
		e.b = appendURLEncoded(e.b, v)
	}
	e.b = append(e.b, '\n')
}

func (e *plainEncoder) addInt(name string, v int64) { e.addIntPrefixed("", name, v) }

func (e *plainEncoder) addIntPrefixed(prefix, name string, v int64) {
	e.b = append(e.b, prefix...)
	e.b = append(e.b, name...)
	e.b = append(e.b, ':', ' ')
	e.b = strconv.AppendInt(e.b, v, 10) // digits and '-' are never encoded
	e.b = append(e.b, '\n')
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

// plainHeadRoom is what appendPlainFrame reserves in front of an event for
// its outer header block ("Content-Length: N\nContent-Type:
// text/event-plain\n\n"), so the event is encoded once, in place.
const plainHeadRoom = 64

// beginPlainFrame starts a text/event-plain message at the end of dst;
// endPlainFrame, given what beginPlainFrame returned, writes the outer
// headers in front of the event appended since.
func beginPlainFrame(dst []byte) (out []byte, start int) {
	start = len(dst)
	var room [plainHeadRoom]byte
	return append(dst, room[:]...), start
}

func endPlainFrame(dst []byte, start int) []byte {
	var head [plainHeadRoom]byte
	inner := len(dst) - start - plainHeadRoom
	h := append(head[:0], "Content-Length: "...)
	h = strconv.AppendInt(h, int64(inner), 10)
	h = append(h, "\nContent-Type: text/event-plain\n\n"...)
	n := copy(dst[start:], h)
	copy(dst[start+n:], dst[start+plainHeadRoom:])
	return dst[:len(dst)-(plainHeadRoom-n)]
}

// encodePlain renders the event as a text/event-plain message.
func (e *eventMsg) encodePlain() []byte {
	return e.appendPlain(nil)
}

func (e *eventMsg) appendPlain(dst []byte) []byte {
	dst, start := beginPlainFrame(dst)
	enc := plainEncoder{b: dst}
	for _, h := range e.headers {
		enc.add(h.name, h.value)
	}
	if e.body != "" {
		enc.b = append(enc.b, "Content-Length: "...)
		enc.b = strconv.AppendInt(enc.b, int64(len(e.body)), 10)
		enc.b = append(enc.b, '\n', '\n')
		enc.b = append(enc.b, e.body...)
	} else {
		enc.b = append(enc.b, '\n')
	}
	return endPlainFrame(enc.b, start)
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
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:36], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}
