package esl

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fsivr/fsivr/internal/capture"
)

func TestReadMessageEdgeCases(t *testing.T) {
	reply := "Content-Type: command/reply\nReply-Text: +OK\n\n"
	api := "Content-Type: api/response\nContent-Length: 4\n\n217\n"
	bgjob := "Content-Length: 95\nContent-Type: text/event-plain\n\n" +
		"Event-Name: BACKGROUND_JOB\nJob-UUID: j1\nContent-Length: 11\n\n+OK abc-de\n" + "Extra: x\n\n"
	bgjob = fixLen(bgjob)
	tests := []struct {
		name    string
		in      string
		max     int
		count   int   // messages read before the error
		wantErr error // nil: clean io.EOF after count messages
	}{
		{name: "one reply", in: reply, count: 1},
		{name: "several per read", in: reply + api + reply, count: 3},
		{name: "body split", in: api + api, count: 2},
		{name: "event with inner body", in: bgjob, count: 1},
		{name: "missing blank line at EOF", in: reply[:len(reply)-1], wantErr: io.ErrUnexpectedEOF},
		{name: "short body at EOF", in: api[:len(api)-2], wantErr: io.ErrUnexpectedEOF},
		{name: "oversized Content-Length", in: "Content-Type: api/response\nContent-Length: 999999\n\n", max: 1000, wantErr: ErrFrameTooLarge},
		{name: "oversized header block", in: strings.Repeat("X-Long: aaaaaaaaaa\n", 100), max: 1000, wantErr: ErrFrameTooLarge},
		{name: "non-numeric Content-Length", in: "Content-Type: api/response\nContent-Length: 12a\n\nxx", wantErr: ErrMalformed},
		{name: "negative Content-Length", in: "Content-Type: api/response\nContent-Length: -1\n\n", wantErr: ErrMalformed},
		{name: "header without colon", in: "Content-Type: command/reply\nbogus\n\n", wantErr: ErrMalformed},
		{name: "inner body overruns", in: fixLen("Content-Length: 0\nContent-Type: text/event-plain\n\nEvent-Name: X\nContent-Length: 50\n\nab"), wantErr: ErrMalformed},
		{name: "bad JSON", in: "Content-Length: 5\nContent-Type: text/event-json\n\n{\"a\":", wantErr: ErrMalformed},
		{name: "unknown content type parses", in: "Content-Type: text/rude-rejection\nContent-Length: 5\n\nnope\n", count: 1},
		{name: "stray blank lines skipped", in: "\n\n" + reply + "\n" + reply, count: 2},
		{name: "empty stream", in: "", count: 0},
	}
	for _, tt := range tests {
		for _, mode := range []string{"whole", "onebyte", "halves"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var src io.Reader = strings.NewReader(tt.in)
				switch mode {
				case "onebyte":
					src = iotest.OneByteReader(src)
				case "halves":
					src = capture.NewChunkReader([]byte(tt.in), max(len(tt.in)/2, 1))
				}
				r := NewReader(src, tt.max)
				n := 0
				for {
					_, err := r.ReadMessage()
					if err == nil {
						n++
						continue
					}
					if tt.wantErr == nil {
						if !errors.Is(err, io.EOF) {
							t.Fatalf("after %d messages: %v, want io.EOF", n, err)
						}
					} else if !errors.Is(err, tt.wantErr) {
						t.Fatalf("after %d messages: %v, want %v", n, err, tt.wantErr)
					}
					// Sticky: the stream is out of sync after an error.
					if _, err2 := r.ReadMessage(); err2 != err {
						t.Fatalf("second call: %v, want sticky %v", err2, err)
					}
					break
				}
				if n != tt.count {
					t.Fatalf("read %d messages, want %d", n, tt.count)
				}
			})
		}
	}
}

// fixLen rewrites the outer Content-Length to the real body length.
func fixLen(s string) string {
	hdr, body, _ := strings.Cut(s, "\n\n")
	lines := strings.Split(hdr, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Content-Length:") {
			lines[i] = "Content-Length: " + itoa(len(body))
		}
	}
	return strings.Join(lines, "\n") + "\n\n" + body
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func mustParse(t *testing.T, s string) *Message {
	t.Helper()
	m, n, err := ParseMessage([]byte(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if n != len(s) {
		t.Fatalf("consumed %d of %d bytes", n, len(s))
	}
	return m
}

func TestPlainEventDecoding(t *testing.T) {
	m := mustParse(t, fixLen("Content-Length: 0\nContent-Type: text/event-plain\n\n"+
		"Event-Name: CUSTOM\nEvent-Subclass: fifo%3A%3Ainfo\nPlus: a+b\nPct: %41%42%zz%4\n"+
		"Undef: _undef_\nSpaces: hello%20world\nContent-Length: 3\n\nab\n"))
	if m.Kind() != KindEvent || m.Format() != FormatPlain {
		t.Fatalf("kind %v format %v", m.Kind(), m.Format())
	}
	checks := map[string]string{
		"Event-Name": "CUSTOM", "event-subclass": "fifo::info", "PLUS": "a+b",
		"Pct": "AB%zz%4", "Undef": "", "Spaces": "hello world",
	}
	for k, want := range checks {
		if got := m.Get(k); got != want {
			t.Errorf("Get(%q) = %q, want %q", k, got, want)
		}
	}
	if m.Subclass() != "fifo::info" || m.Name() != "CUSTOM" {
		t.Errorf("Name/Subclass = %q/%q", m.Name(), m.Subclass())
	}
	if v, ok := m.Lookup("Undef"); !ok || v != "" {
		t.Errorf("Lookup(Undef) = %q, %v", v, ok)
	}
	if _, ok := m.Lookup("Missing"); ok {
		t.Error("Lookup(Missing) found")
	}
	if _, ok := m.Lookup("Plu"); ok {
		t.Error("prefix of a name matched")
	}
	if string(m.Body()) != "ab\n" {
		t.Errorf("Body = %q", m.Body())
	}
	names := slices.Collect(maps.Keys(maps.Collect(m.EventHeaders())))
	if len(names) != 7 {
		t.Errorf("Headers yielded %v", names)
	}
	if m.OuterHeader("content-type") != "text/event-plain" {
		t.Errorf("outer Content-Type %q", m.OuterHeader("content-type"))
	}
}

func TestJSONEvent(t *testing.T) {
	body := `{"Event-Name":"BACKGROUND_JOB","Job-UUID":"j1","Esc":"a\"b\\c\u0041\n","Arr":["x","y"],"Num":12,"Plus":"a+b%41","_body":"+OK 1\n"}`
	m := mustParse(t, fixLen("Content-Length: 0\nContent-Type: text/event-json\n\n"+body))
	checks := map[string]string{
		"event-name": "BACKGROUND_JOB", "Job-UUID": "j1", "Esc": "a\"b\\cA\n",
		"Arr": `["x","y"]`, "Num": "12", "Plus": "a+b%41",
	}
	for k, want := range checks {
		if got := m.Get(k); got != want {
			t.Errorf("Get(%q) = %q, want %q", k, got, want)
		}
	}
	if string(m.Body()) != "+OK 1\n" {
		t.Errorf("Body = %q", m.Body())
	}
	got := maps.Collect(m.EventHeaders())
	if len(got) != 7 || got["Esc"] != "a\"b\\cA\n" {
		t.Errorf("Headers = %v", got)
	}
}

func TestDisconnectNoticeForms(t *testing.T) {
	for _, s := range []string{
		"Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n",
		"Content-Type: text/disconnect-notice\nControlled-Session-UUID: u\nContent-Disposition: linger\nChannel-Name: x\nLinger-Time: -1\nContent-Length: 0\n\n",
	} {
		m := mustParse(t, s)
		if m.Kind() != KindDisconnectNotice {
			t.Errorf("kind %v", m.Kind())
		}
	}
}

func TestValidateValue(t *testing.T) {
	for _, s := range []string{"a\nb", "a\rb", "\n"} {
		if !errors.Is(ValidateValue(s), ErrInvalidValue) {
			t.Errorf("%q accepted", s)
		}
	}
	if err := ValidateValue("tone_stream://%(500,0,440)"); err != nil {
		t.Error(err)
	}
}

func TestSendmsgEncoding(t *testing.T) {
	got := string(appendSendmsg(nil, "playback", "tone_stream://%(500,0,440)", "U", true))
	want := "sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: tone_stream://%(500,0,440)\nevent-lock: true\nEvent-UUID: U\n\n"
	if got != want {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("x", longArgThreshold+1)
	got = string(appendSendmsg(nil, "set", long, "U", true))
	if !strings.HasSuffix(got, "content-type: text/plain\ncontent-length: 1025\n\n"+long) || strings.Contains(got, "execute-app-arg") {
		t.Errorf("long arg encoding: %.200q", got)
	}
	m, _, err := ParseMessage([]byte(got))
	if err == nil {
		t.Logf("a long sendmsg frames as %s", m.Kind()) // FreeSWITCH frames commands the same way
	}
}

func TestNewUUID(t *testing.T) {
	a, b := NewUUID(), NewUUID()
	if a == b || len(a) != 36 || a[14] != '4' || !strings.ContainsAny(a[19:20], "89ab") {
		t.Errorf("uuids %q %q", a, b)
	}
}

func TestParseMessageConsumed(t *testing.T) {
	two := "Content-Type: command/reply\nReply-Text: +OK\n\n" + "Content-Type: api/response\nContent-Length: 2\n\nok"
	m, n, err := ParseMessage([]byte(two))
	if err != nil || m.ReplyText() != "+OK" {
		t.Fatal(err)
	}
	m2 := mustParse(t, two[n:])
	if string(m2.Body()) != "ok" || !bytes.Equal(m2.Raw(), []byte(two[n:])) {
		t.Errorf("second message %q", m2.Raw())
	}
}

// Issue 16 item 8: 250 connections announcing a 4 MB body and sending 80
// bytes cost +1 GB of heap, because the Reader allocated the announced
// Content-Length before the bytes arrived. The buffer must follow what was
// received.
func TestReaderGrowsWithBytesReceived(t *testing.T) {
	in := "Content-Type: api/response\nContent-Length: 4000000\n\n" + strings.Repeat("x", 80)
	r := NewReader(strings.NewReader(in), 0)
	if _, err := r.ReadMessage(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated body: %v, want io.ErrUnexpectedEOF", err)
	}
	if got := cap(r.buf); got > 64<<10 {
		t.Errorf("buffer of %d bytes for %d received; it must grow with what arrives", got, len(in))
	}

	// A body that does arrive whole still reads, however it is cut.
	body := strings.Repeat("0123456789", 100_000)
	msg := "Content-Type: api/response\nContent-Length: " + itoa(len(body)) + "\n\n" + body
	capture.ForEachChunking(t, []byte(msg+msg), func(t *testing.T, src io.Reader) {
		r := NewReader(src, 0)
		for i := range 2 {
			m, err := r.ReadMessage()
			if err != nil || string(m.OuterBody()) != body {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if _, err := r.ReadMessage(); !errors.Is(err, io.EOF) {
			t.Fatalf("after two messages: %v", err)
		}
	})
}
