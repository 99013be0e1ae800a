package esltest

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The encoder was rewritten for the load tool's sake (issue 14): events are
// written straight to the wire form instead of through a header list and
// per-value strings. These tests hold it to the encoder it replaced, kept
// here as the reference, so the bytes on the wire cannot drift.

// refURLEncode is the urlEncode the fake had before (switch_url_encode).
func refURLEncode(s string) string {
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

// refEncodePlain is the encodePlain the fake had before.
func refEncodePlain(headers headerList, body string) string {
	var inner strings.Builder
	for _, h := range headers {
		v := h.value
		if v == "" {
			v = "_undef_"
		} else {
			v = refURLEncode(v)
		}
		inner.WriteString(h.name + ": " + v + "\n")
	}
	if body != "" {
		fmt.Fprintf(&inner, "Content-Length: %d\n\n%s", len(body), body)
	} else {
		inner.WriteByte('\n')
	}
	return fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", inner.Len(), inner.String())
}

func TestURLEncodeMatchesReference(t *testing.T) {
	var cases []string
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "a"+string([]byte{byte(c)})+"b")
	}
	cases = append(cases, "", "%", "%4", "%41", "%4g", "a%41", "%%41", "x%41%", "100%", "%zz%2", "tone_stream://%(500,0,440)",
		"Mon, 23 Nov 2026 10:00:00 GMT", "é ü 日本", strings.Repeat("plain-value/", 40))
	rng := rand.New(rand.NewPCG(7, 8))
	const alphabet = "abcXYZ019%%%:; @+&=?/\\\"'\r\n\x00\x7f\xc3\xa9,()!*$-_"
	for range 5000 {
		b := make([]byte, rng.IntN(24))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, in := range cases {
		if got, want := urlEncode(in), refURLEncode(in); got != want {
			t.Fatalf("urlEncode(%q) = %q, reference %q", in, got, want)
		}
	}
}

// eventClock matches the headers that differ between two renderings of one
// event (the clock moved, the sequence counter advanced).
var eventClock = regexp.MustCompile(`(?m)^(Event-Date-Local|Event-Date-GMT|Event-Date-Timestamp|Event-Sequence): .*$`)

// TestPlainEventMatchesReference renders channel events in every shape the
// session sends (with and without variables, hangup cause, extra headers,
// values that need encoding, empty values) straight to the wire and
// compares them with the reference encoding of the same event's header
// list; and the header-list path and the connect reply with the reference.
func TestPlainEventMatchesReference(t *testing.T) {
	si := newSwitchInfo()
	ch := &channel{
		si: si, uuid: newUUID(), name: "sofia/internal/5551000@127.0.0.1", direction: "inbound",
		callerNum: "5551000", callerName: "Caller 5551000", dest: "5000", source: "mod_sofia", context: "default",
		hitDialplan: true, state: "CS_EXECUTE", callState: "RINGING", stateNum: "4", answerState: "ringing",
		created: time.Now(),
	}
	ch.vars.add("direction", "inbound")
	ch.vars.add("uuid", ch.uuid)
	ch.vars.set("current_application_data", "127.0.0.1:8084 async full")
	ch.vars.set("empty", "")
	ch.vars.set("odd value", "a%41 b&c=d?e\nf\x00é")
	extra := []header{{"Application", "playback"}, {"Application-Data", "tone_stream://%(500,0,440)"},
		{"Application-Response", ""}, {"Application-UUID", newUUID()}}
	check := func(name string, site callSite, extra []header) {
		t.Helper()
		si.seq.Store(900)
		fast := string(ch.appendPlainEvent([]byte("prefix"), name, site, extra))
		si.seq.Store(900)
		ev := ch.event(name, site, extra...)
		want := "prefix" + refEncodePlain(ev.headers, "")
		if !strings.HasPrefix(fast, "prefix") {
			t.Fatalf("%s: appendPlainEvent lost what was in the buffer", name)
		}
		// The frame's Content-Length must match before the clock lines
		// are masked (they can differ in length by a digit at most, so
		// compare the length from the parsed frame against the body).
		if err := checkFrame(strings.TrimPrefix(fast, "prefix")); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if g, w := eventClock.ReplaceAllString(fast, "$1: x"), eventClock.ReplaceAllString(want, "$1: x"); stripLength(g) != stripLength(w) {
			t.Fatalf("%s: fast encoding differs from the reference\nfast:\n%s\nreference:\n%s", name, g, w)
		}
		si.seq.Store(900)
		ev2 := ch.event(name, site, extra...)
		if got, want := string(ev2.encodePlain()), refEncodePlain(ev2.headers, ""); got != want {
			t.Fatalf("%s: encodePlain differs from the reference\n%s\n%s", name, got, want)
		}
	}
	check("CHANNEL_PARK", sitePark, nil)
	check("CHANNEL_EXECUTE", siteExecute, extra)
	check("DTMF", siteDTMF, []header{{"DTMF-Digit", "#"}, {"DTMF-Duration", "2000"}})
	check("CHANNEL_STATE", siteState, nil)
	// Variables set again, removed, and the profile changed: the cached
	// lines and block must follow.
	ch.vars.set("direction", "inbound")
	ch.vars.del("empty")
	ch.vars.set("empty", "")
	ch.vars.del("no such variable")
	check("CHANNEL_EXECUTE_COMPLETE", siteComplete, extra)
	ch.dest, ch.context = "fifo_hst", "new_sales"
	check("CHANNEL_STATE", siteState, nil)
	ch.markAnswered()
	check("CHANNEL_ANSWER", siteAnswer, nil)
	ch.startHangup("NORMAL_CLEARING")
	ch.hungup = time.Now()
	ch.setCDRVariables("playback", "a b")
	check("CHANNEL_HANGUP", siteHangup, nil)
	check("CHANNEL_HANGUP_COMPLETE", siteHangupDone, nil)

	// An event with a body (BACKGROUND_JOB) through encodePlain.
	job := si.backgroundJob(newUUID(), "uptime now", ch.uuid, "+OK 12\n")
	if got, want := string(job.encodePlain()), refEncodePlain(job.headers, job.body); got != want {
		t.Fatalf("BACKGROUND_JOB differs from the reference\n%s\n%s", got, want)
	}

	// The connect reply: the same headers, in the same order, as the
	// reference encoding of the header list the fake used to build.
	si.seq.Store(900)
	got := string(ch.channelData("async"))
	si.seq.Store(900)
	l := si.eventHeader("CHANNEL_DATA", siteData.file, siteData.function, siteData.line)
	ch.profile("Channel-", &l)
	ch.channelBlock(&l)
	ch.addVariables(&l)
	l.add("Content-Type", "command/reply")
	l.add("Reply-Text", "+OK\n")
	l.add("Socket-Mode", "async")
	l.add("Control", "full")
	ref := refEncodePlain(l, "")
	_, ref, _ = strings.Cut(ref, "\n\n") // the reference's inner block is the connect reply
	if g, w := eventClock.ReplaceAllString(got, "$1: x"), eventClock.ReplaceAllString(ref, "$1: x"); g != w {
		t.Fatalf("connect reply differs from the reference\n%s\n%s", g, w)
	}
}

// checkFrame checks that a text/event-plain message's Content-Length is
// the length of what follows its header block.
func checkFrame(m string) error {
	head, inner, ok := strings.Cut(m, "\n\n")
	if !ok {
		return fmt.Errorf("no header block in %q", m)
	}
	var n int
	if _, err := fmt.Sscanf(head, "Content-Length: %d\nContent-Type: text/event-plain", &n); err != nil {
		return fmt.Errorf("outer headers %q: %w", head, err)
	}
	if n != len(inner) {
		return fmt.Errorf("Content-Length %d, %d bytes follow", n, len(inner))
	}
	return nil
}

// stripLength drops the outer Content-Length (checked by checkFrame; the
// masked clock lines change it).
func stripLength(m string) string {
	_, rest, _ := strings.Cut(m, "\n")
	return rest
}
