package esl

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestPackEnds checks packEnds (assembly on amd64) against a store per
// value, for every length around its eight-value steps and values across
// the whole uint16 range (the signed pack must not saturate above 0x7FFF).
func TestPackEnds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 70 {
		ends := make([]uint32, n)
		for i := range ends {
			ends[i] = []uint32{0, 1, 0x7FFF, 0x8000, 0xFFFF, rng.Uint32N(0x10000)}[rng.IntN(6)]
		}
		want := make([]byte, 2*n+3)
		for i, e := range ends {
			binary.LittleEndian.PutUint16(want[2*i:], uint16(e))
		}
		got := bytes.Repeat([]byte{0xAA}, 2*n+3)
		copy(want[2*n:], got[2*n:]) // the bytes after the ends stay as they were
		packEnds(got[:2*n], ends)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d ends %x: packed %x, want %x", n, ends, got, want)
		}
	}
}

// TestParseWideFrame parses frames around the 64 KiB where the line ends
// stop fitting a uint16 (plain events, a reply with a command line, JSON)
// and checks every slot against the lines and every header by Get.
func TestParseWideFrame(t *testing.T) {
	for _, size := range []int{maxNarrow - 200, maxNarrow - 1, maxNarrow, maxNarrow + 1, maxNarrow + 500, 3 * maxNarrow} {
		var lines []string
		var body string
		for n := 0; ; n++ {
			line := fmt.Sprintf("H-%d: %s", n, strings.Repeat("v", n%70))
			if len(body)+len(line)+1 > size-120 {
				break
			}
			lines = append(lines, line)
			body += line + "\n"
		}
		body += "\n" // the blank line: what follows is the event body, never indexed
		head := func(n int) string { return fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n", n) }
		fill := size - len(body) - len(head(size))
		body += strings.Repeat("x", fill)
		frame := []byte(head(len(body)) + body)
		if len(frame) != size {
			t.Fatalf("built %d bytes, want %d", len(frame), size)
		}
		hdrLen := bytes.Index(frame, []byte("\n\n")) + 2
		m, err := parseFrame(frame, hdrLen)
		if err != nil {
			t.Fatalf("%d bytes: %v", len(frame), err)
		}
		if m.wide != (len(frame) > maxNarrow) {
			t.Fatalf("%d bytes: wide %v", len(frame), m.wide)
		}
		if int(m.nFields-m.nOuter) != len(lines) {
			t.Fatalf("%d bytes: %d event lines, want %d", len(frame), m.nFields-m.nOuter, len(lines))
		}
		for i, line := range lines {
			ls, le := m.slot(m.nOuter + uint32(i))
			if string(m.buf[ls:le]) != line {
				t.Fatalf("%d bytes: slot %d is %.40q, want %.40q", len(frame), i, m.buf[ls:le], line)
			}
			name, value, _ := strings.Cut(line, ": ")
			if got := m.Get(name); got != value {
				t.Fatalf("%d bytes: %s = %.40q, want %.40q", len(frame), name, got, value)
			}
		}
		if got := m.OuterHeader("content-type"); got != "text/event-plain" {
			t.Fatalf("%d bytes: Content-Type %q", len(frame), got)
		}

		reply := []byte("sendmsg abc\nX-A: 1\nX-B: " + strings.Repeat("b", size) + "\nX-C: 3\n\n")
		r, err := parseFrame(reply, len(reply))
		if err != nil {
			t.Fatal(err)
		}
		if r.commandLine() != "sendmsg abc" || r.OuterHeader("X-A") != "1" || len(r.OuterHeader("x-b")) != size || r.OuterHeader("X-C") != "3" {
			t.Fatalf("%d-byte reply: %q %q %d %q", len(reply), r.commandLine(), r.OuterHeader("X-A"), len(r.OuterHeader("X-B")), r.OuterHeader("X-C"))
		}

		js := fmt.Sprintf(`{"Event-Name":"CUSTOM","Big":"%s","Unique-ID":"u"}`, strings.Repeat("j", size))
		jf := []byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-json\n\n%s", len(js), js))
		j, err := parseFrame(jf, bytes.Index(jf, []byte("\n\n"))+2)
		if err != nil {
			t.Fatal(err)
		}
		if j.Name() != "CUSTOM" || len(j.Get("Big")) != size || j.Get("Unique-ID") != "u" || j.OuterHeader("Content-Length") != fmt.Sprint(len(js)) {
			t.Fatalf("%d-byte JSON event: %q %d %q", len(jf), j.Name(), len(j.Get("Big")), j.Get("Unique-ID"))
		}
	}
}

// TestParseHotOverflow parses a plain event whose inner Content-Length
// comes after more lines than a hot slot can name (hotOverflow): the body
// is still found, by a scan.
func TestParseHotOverflow(t *testing.T) {
	var b strings.Builder
	for n := range hotOverflow + 10 {
		fmt.Fprintf(&b, "v%d: x\n", n%10)
	}
	b.WriteString("Content-Length: 4\nUnique-ID: late\n\nbody")
	body := b.String()
	frame := []byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body))
	m, err := parseFrame(frame, bytes.Index(frame, []byte("\n\n"))+2)
	if err != nil {
		t.Fatal(err)
	}
	if m.hot[hotContentLength] != hotOverflow || m.hot[hotUniqueID] != hotOverflow {
		t.Fatalf("hot Content-Length %d, Unique-ID %d: want both %d", m.hot[hotContentLength], m.hot[hotUniqueID], hotOverflow)
	}
	if string(m.Body()) != "body" || m.Get("Unique-ID") != "late" {
		t.Fatalf("body %q, Unique-ID %q", m.Body(), m.Get("Unique-ID"))
	}
}
