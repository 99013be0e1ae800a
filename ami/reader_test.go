package ami

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/internal/capture"
)

func parseAll(t *testing.T, s string) []*Message {
	t.Helper()
	msgs, err := readMessages(NewReader(strings.NewReader(s), 0))
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// The bare-LF replies of 61/64: one message, no empty "message" after it
// (astgo loops forever on this Park reply; goami2 drops it).
func TestBareLFReplyIsOneMessage(t *testing.T) {
	raw := readTestdata(t, "64_park_and_announce.s2c.raw")
	i := bytes.Index(raw, []byte("Message: Park successful\n\r\n\r\n"))
	if i < 0 {
		t.Fatal("capture 64 lacks the bare-LF Park reply")
	}
	start := bytes.LastIndex(raw[:i], []byte("\r\n\r\n")) + 4
	end := i + len("Message: Park successful\n\r\n\r\n")
	msgs := parseAll(t, string(raw[start:end])+"Event: Next\r\n\r\n")
	if len(msgs) != 2 {
		t.Fatalf("parsed %d messages, want the reply and the next event", len(msgs))
	}
	if got := msgs[0].Get("Message"); got != "Park successful" {
		t.Errorf("Message = %q", got)
	}
	if msgs[0].Kind() != KindResponse || msgs[1].Name() != "Next" {
		t.Errorf("kinds %v / %q", msgs[0].Kind(), msgs[1].Name())
	}
}

// 70: `CallStarted: 1796112741\nLoggedInTime: 1796112736\r\n` is two headers.
func TestBareLFJoinsTwoHeaders(t *testing.T) {
	raw := readTestdata(t, "70_agent_pool_login_queue_call.s2c.raw")
	if !bytes.Contains(raw, []byte("CallStarted: 1796112741\nLoggedInTime: 1796112736\r\n")) {
		t.Fatal("capture 70 lacks the joined Agents headers")
	}
	msgs, err := readMessages(newBannerReader(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range msgs {
		if m.Name() == "Agents" && m.Get("CallStarted") != "" {
			found = true
			if m.Get("CallStarted") != "1796112741" || m.Get("LoggedInTime") != "1796112736" {
				t.Errorf("CallStarted %q LoggedInTime %q", m.Get("CallStarted"), m.Get("LoggedInTime"))
			}
		}
	}
	if !found {
		t.Error("no Agents item with CallStarted")
	}
}

func newBannerReader(t *testing.T, raw []byte) *Reader {
	t.Helper()
	r := NewReader(bytes.NewReader(raw), 0)
	if _, err := r.ReadBanner(); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGetIsCaseInsensitive(t *testing.T) {
	m := parseAll(t, "Event: Cdr\r\nUniqueID: 17.1\r\nBridgeID: b\r\n\r\n")[0]
	for _, name := range []string{"Uniqueid", "UniqueID", "uniqueid"} {
		if m.Get(name) != "17.1" {
			t.Errorf("Get(%q) = %q", name, m.Get(name))
		}
	}
	if m.Get("BridgeId") != "b" || m.Get("Unique") != "" {
		t.Errorf("BridgeId %q, prefix match %q", m.Get("BridgeId"), m.Get("Unique"))
	}
	if _, ok := m.Lookup("Missing"); ok {
		t.Error("Lookup of a missing header reports present")
	}
}

// amigo keeps one value of a repeated key: Values keeps all, in order.
func TestRepeatedHeadersInOrder(t *testing.T) {
	m := parseAll(t, "Response: Success\r\nMessage: Command output follows\r\nOutput: a\r\nOutput: \r\nOutput:   indented\r\nOutput: b\r\n\r\n")[0]
	want := []string{"a", "", "  indented", "b"}
	if got := m.Values("Output"); !slices.Equal(got, want) {
		t.Errorf("Values = %q, want %q", got, want)
	}
	if got := m.Output(); !slices.Equal(got, want) {
		t.Errorf("Output = %q", got)
	}
}

// 22: ChanVariable and ChanVariable(<channel>) headers (goami2 drops the
// message whose header name has parentheses).
func TestChanVariables(t *testing.T) {
	msgs, err := readMessages(newBannerReader(t, readTestdata(t, "22_originate_local400_with_manager_channelvars.s2c.raw")))
	if err != nil {
		t.Fatal(err)
	}
	var or *Message
	for _, m := range msgs {
		if m.Name() == "OriginateResponse" {
			or = m
		}
	}
	if or == nil {
		t.Fatal("no OriginateResponse in 22")
	}
	name := ""
	for k := range or.Headers() {
		if strings.HasPrefix(k, "ChanVariable(") {
			name = k
		}
	}
	if name == "" {
		t.Fatal("no ChanVariable(<channel>) header in 22's OriginateResponse")
	}
	v, ok := or.Var("CALLID")
	if !ok || v == "" || !slices.Contains(or.Values(name), "CALLID="+v) {
		t.Errorf("Var(CALLID) = %q, %v; header %s = %q", v, ok, name, or.Values(name))
	}
	m := parseAll(t, "Event: Hangup\r\nChanVariable: CALLID=abc\r\nChanVariable: AST_OUTGOING_ATTEMPT=\r\n\r\n")[0]
	if v, _ := m.Var("CALLID"); v != "abc" {
		t.Errorf("Var(CALLID) = %q", v)
	}
	if v, ok := m.Var("AST_OUTGOING_ATTEMPT"); !ok || v != "" {
		t.Errorf("empty variable: %q %v", v, ok)
	}
	if _, ok := m.Var("CALL"); ok {
		t.Error("Var matched a prefix")
	}
}

func TestEventHeaderWins(t *testing.T) {
	m := parseAll(t, "Response: Failure\r\nEvent: OriginateResponse\r\nActionID: x-1\r\n\r\n")[0]
	if !m.IsEvent() || m.Kind() != KindEvent || m.Name() != "OriginateResponse" {
		t.Errorf("kind %v name %q", m.Kind(), m.Name())
	}
	if k := parseAll(t, "Action:Ping\r\nActionID:nospace-1\r\n\r\n")[0]; k.Kind() != KindAction || k.ActionID() != "nospace-1" {
		t.Errorf("Key:Value: kind %v ActionID %q", k.Kind(), k.ActionID())
	}
}

func TestLFOnlyAndEmptyMessages(t *testing.T) {
	msgs := parseAll(t, "\r\n\nAction: Ping\nActionID: lf\n\n\r\n\r\nEvent: X\r\nEmpty: \r\n\r\n")
	if len(msgs) != 2 || msgs[0].ActionID() != "lf" || msgs[1].Name() != "X" {
		t.Fatalf("messages %v", msgs)
	}
	if v, ok := msgs[1].Lookup("Empty"); !ok || v != "" {
		t.Errorf("empty value %q %v", v, ok)
	}
}

// Asterisk before 14: Response: Follows, raw output (blank lines
// included), --END COMMAND--.
func TestCommandFollows(t *testing.T) {
	raw := "Response: Follows\r\nPrivilege: Command\r\nActionID: c-1\r\nName: value-looking line\r\n\r\nsecond paragraph\r\n--END COMMAND--\r\n\r\n" +
		"Response: Follows\r\nActionID: c-2\r\nNo such command 'x'--END COMMAND--\r\n\r\nEvent: After\r\n\r\n"
	msgs := parseAll(t, raw)
	if len(msgs) != 3 {
		t.Fatalf("parsed %d messages", len(msgs))
	}
	if got, want := msgs[0].Output(), []string{"Name: value-looking line", "", "second paragraph"}; !slices.Equal(got, want) {
		t.Errorf("Output = %q, want %q", got, want)
	}
	if msgs[0].ActionID() != "c-1" || msgs[0].Get("Privilege") != "Command" {
		t.Errorf("headers: %q %q", msgs[0].ActionID(), msgs[0].Get("Privilege"))
	}
	if got := msgs[1].Output(); !slices.Equal(got, []string{"No such command 'x'"}) || msgs[1].ActionID() != "c-2" {
		t.Errorf("glued end marker: %q", got)
	}
	if msgs[2].Name() != "After" {
		t.Errorf("next message %v", msgs[2])
	}
}

func TestFrameTooLarge(t *testing.T) {
	big := "Event: Big\r\nData: " + strings.Repeat("x", 2000) + "\r\n\r\n"
	r := NewReader(strings.NewReader("Event: Small\r\n\r\n"+big), 1024)
	if m, err := r.ReadMessage(); err != nil || m.Name() != "Small" {
		t.Fatalf("first: %v %v", m, err)
	}
	_, err := r.ReadMessage()
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if _, err2 := r.ReadMessage(); !errors.Is(err2, ErrFrameTooLarge) {
		t.Errorf("error not sticky: %v", err2)
	}
	// A stream with no line end at all is cut at the limit too.
	r = NewReader(capture.NewChunkReader(bytes.Repeat([]byte("y"), 5000), 100), 1024)
	if _, err := r.ReadMessage(); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("endless line: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	for _, s := range []string{"Event: X\r\ngarbage line\r\n\r\n", ": no name\r\n\r\n"} {
		if _, err := readMessages(NewReader(strings.NewReader(s), 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", s, err)
		}
	}
	r := NewReader(strings.NewReader("SSH-2.0-OpenSSH\r\n"), 0)
	if _, err := r.ReadBanner(); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad banner: %v", err)
	}
	r = NewReader(strings.NewReader("Event: X\r\nA: b\r\n"), 0)
	if _, err := r.ReadMessage(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated: %v", err)
	}
}

func TestParseMessage(t *testing.T) {
	m, n, err := ParseMessage([]byte("\r\nEvent: A\r\n\r\nEvent: B\r\n\r\n"))
	if err != nil || n != 14 || m.Name() != "A" {
		t.Errorf("ParseMessage = %v, %d, %v", m, n, err)
	}
	if _, _, err := ParseMessage([]byte("Event: A\r\n")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("partial: %v", err)
	}
}

func TestEncodeRefusesCRLF(t *testing.T) {
	cases := [][]string{
		{"CallerID", "\"x\" <1>\r\nAction: Hangup"},
		{"Variable", "CALLID=a\nb"},
		{"Bad:Name", "v"},
		{"", "v"},
		{"ActionID", "mine"},
		{"odd"},
		{"Data", strings.Repeat("x", MaxLineLength)},
	}
	for _, hs := range cases {
		b, err := EncodeAction("Originate", "p-1", hs...)
		if !errors.Is(err, ErrInvalidValue) || b != nil {
			t.Errorf("%q: %q, %v; want ErrInvalidValue and no bytes", hs, b, err)
		}
		if err != nil && strings.Contains(err.Error(), "CALLID=a") {
			t.Errorf("error quotes the value: %v", err)
		}
	}
	if _, err := EncodeAction("Ping\r\n", "p-1"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("action name: %v", err)
	}
	if _, err := EncodeAction("Setvar", "p-2", "Value", strings.Repeat("x", MaxLineLength-len("Value: "))); err != nil {
		t.Errorf("a line of exactly MaxLineLength: %v", err)
	}
	b, err := EncodeAction("Setvar", "p-2", "Variable", "X", "Value", "")
	if err != nil || string(b) != "Action: Setvar\r\nActionID: p-2\r\nVariable: X\r\nValue: \r\n\r\n" {
		t.Errorf("EncodeAction = %q, %v", b, err)
	}
	m := parseAll(t, string(b))[0]
	if m.Kind() != KindAction || m.Get("Variable") != "X" {
		t.Errorf("round trip: %v", m)
	}
}
