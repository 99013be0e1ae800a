package esl

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestSizeClasses checks the probed size classes: found on this runtime,
// ascending, each at least what it is for, and what an allocation of that
// many bytes really takes (a Builder grown to n has Cap n's class).
func TestSizeClasses(t *testing.T) {
	if len(sizeClasses) == 0 {
		t.Fatal("no size classes probed: messages are never combined with their buffer")
	}
	prev := 0
	for n := 1; n <= maxCombined; n++ {
		c := int(sizeClasses[(n+7)/8])
		if c < n || c < prev {
			t.Fatalf("class of %d: %d (class of %d: %d)", n, c, n-1, prev)
		}
		prev = c
		if n%97 == 0 {
			var b strings.Builder
			b.Grow(n)
			if b.Cap() != c {
				t.Fatalf("class of %d: %d, a Builder grown to it has %d", n, c, b.Cap())
			}
		}
	}
}

// TestParseOneAllocation checks that the real 3.2 KB event is one
// allocation, the Message at the start of its own buffer, and that a
// message whose buffer fills its size class is two (combining would take
// the next class).
func TestParseOneAllocation(t *testing.T) {
	frame := pagdComplete(t)
	hdrLen := bytes.Index(frame, []byte("\n\n")) + 2
	if n := testing.AllocsPerRun(100, func() {
		if _, err := parseFrame(frame, hdrLen); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("%v allocations a parse, want 1", n)
	}
	m, err := parseFrame(frame, hdrLen)
	if err != nil {
		t.Fatal(err)
	}
	if uintptr(unsafe.Pointer(m))+uintptr(headSize) != uintptr(unsafe.Pointer(&m.buf[0])) {
		t.Fatal("the Message is not at the start of its buffer")
	}
	// More lines than the scratch index holds: indexed on through it, a
	// part at a time, into the message's own index, with no allocation
	// more than a short event's.
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
	want := 2.0
	if uintptr(unsafe.Pointer(lm))+uintptr(headSize) == uintptr(unsafe.Pointer(&lm.buf[0])) {
		want = 1
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := parseFrame(long, longHdr); err != nil {
			t.Fatal(err)
		}
	}); n != want {
		t.Fatalf("%d-line event: %v allocations a parse, want %v", lm.nFields-lm.nOuter, n, want)
	}
	if lm.Get("Unique-ID") != "last" || lm.Get("variable_v300") != "300" || int(lm.nFields-lm.nOuter) != len(lines)+2 {
		t.Fatalf("%d-line event: Unique-ID %q, variable_v300 %q, %d lines", len(lines)+2, lm.Get("Unique-ID"), lm.Get("variable_v300"), lm.nFields-lm.nOuter)
	}

	// A reply of exactly 4,096 bytes (no index beyond its two lines' four
	// bytes): alone it takes the 4,096 class; with the Message, 4,864.
	pad := 4096 - len("Content-Type: command/reply\nReply-Text: \n\n") - 2*narrowEnd
	reply := []byte("Content-Type: command/reply\nReply-Text: " + strings.Repeat("r", pad) + "\n\n")
	r, err := parseFrame(reply, len(reply))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.buf) != 4096 || uintptr(unsafe.Pointer(r))+uintptr(headSize) == uintptr(unsafe.Pointer(&r.buf[0])) {
		t.Fatalf("%d-byte buffer: combined with its Message", len(r.buf))
	}
	if len(r.ReplyText()) != pad {
		t.Fatalf("Reply-Text of %d bytes, want %d", len(r.ReplyText()), pad)
	}
}

// TestCombinedSurvivesGC holds, through collections with the heap churned
// in between, only a string from a message, only the message, and only a
// copy of the message struct, and checks each still reads what was
// parsed: the Message's own pointer is in memory the collector does not
// scan, so each of these must keep the allocation alive on its own.
func TestCombinedSurvivesGC(t *testing.T) {
	const n = 200
	frames := make([][]byte, n)
	for i := range frames {
		body := fmt.Sprintf("Event-Name: CUSTOM\nUnique-ID: u-%d\nX-Pad: %s\n\n", i, strings.Repeat("p", i*13))
		frames[i] = fmt.Appendf(nil, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body)
	}
	var ids []string
	var msgs []*Message
	var copies []Message
	for i, f := range frames {
		m, err := parseFrame(f, bytes.Index(f, []byte("\n\n"))+2)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 3 {
		case 0:
			ids = append(ids, m.Get("Unique-ID"))
		case 1:
			msgs = append(msgs, m)
		default:
			copies = append(copies, *m)
		}
	}
	for range 3 {
		runtime.GC()
		churn := make([][]byte, 0, 4096)
		for j := range 4096 {
			churn = append(churn, bytes.Repeat([]byte{byte(j)}, 100+j%4000))
		}
		runtime.KeepAlive(churn)
	}
	for k, id := range ids {
		if want := fmt.Sprintf("u-%d", 3*k); id != want {
			t.Fatalf("string kept alone: %q, want %q", id, want)
		}
	}
	for k, m := range msgs {
		if got, want := m.Get("Unique-ID"), fmt.Sprintf("u-%d", 3*k+1); got != want || !bytes.Equal(m.Raw(), frames[3*k+1]) {
			t.Fatalf("message kept alone: Unique-ID %q, want %q", got, want)
		}
	}
	for k := range copies {
		m := &copies[k]
		if got, want := m.Get("Unique-ID"), fmt.Sprintf("u-%d", 3*k+2); got != want || !bytes.Equal(m.Raw(), frames[3*k+2]) {
			t.Fatalf("copy kept alone: Unique-ID %q, want %q", got, want)
		}
	}
}
