package esl

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestParseAllocations checks that a message is two allocations, the
// Message and its buffer: the real 3.2 KB event, and one with more lines
// than the scratch index holds (indexed on through the scratch, a part at
// a time, into the message's own index, with no allocation more).
func TestParseAllocations(t *testing.T) {
	frame := pagdComplete(t)
	hdrLen := bytes.Index(frame, []byte("\n\n")) + 2
	if n := testing.AllocsPerRun(100, func() {
		if _, err := parseFrame(frame, hdrLen); err != nil {
			t.Fatal(err)
		}
	}); n != 2 {
		t.Fatalf("%v allocations a parse, want 2", n)
	}
	var lines []string
	for n := range 3*preSlots + 5 {
		lines = append(lines, fmt.Sprintf("variable_v%d: %d", n, n))
	}
	body := "Event-Name: CUSTOM\n" + strings.Join(lines, "\n") + "\nUnique-ID: last\n\n"
	long := fmt.Appendf(nil, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body)
	longHdr := bytes.Index(long, []byte("\n\n")) + 2
	lm, err := parseFrame(long, longHdr)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := parseFrame(long, longHdr); err != nil {
			t.Fatal(err)
		}
	}); n != 2 {
		t.Fatalf("%d-line event: %v allocations a parse, want 2", lm.nFields-lm.nOuter, n)
	}
	if lm.Get("Unique-ID") != "last" || lm.Get("variable_v300") != "300" || int(lm.nFields-lm.nOuter) != len(lines)+2 {
		t.Fatalf("%d-line event: Unique-ID %q, variable_v300 %q, %d lines", len(lines)+2, lm.Get("Unique-ID"), lm.Get("variable_v300"), lm.nFields-lm.nOuter)
	}

	// A reply of exactly 4,096 bytes (no index beyond its two lines' four
	// bytes): its buffer is that, not rounded up by the index.
	pad := 4096 - len("Content-Type: command/reply\nReply-Text: \n\n") - 2*narrowEnd
	reply := []byte("Content-Type: command/reply\nReply-Text: " + strings.Repeat("r", pad) + "\n\n")
	r, err := parseFrame(reply, len(reply))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.buf) != 4096 || len(r.ReplyText()) != pad {
		t.Fatalf("%d-byte buffer, Reply-Text of %d bytes; want 4096 and %d", len(r.buf), len(r.ReplyText()), pad)
	}
}
