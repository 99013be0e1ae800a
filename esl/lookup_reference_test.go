package esl

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// referenceLookup is a plain event's header lookup written the obvious way:
// the event header lines run from bodyStart to the first empty line (or the
// end of the frame); the first whose name, before a ':', is name
// (case-insensitively) gives the value after the colon, spaces and tabs
// skipped, one trailing '\r' dropped, percent-decoded.
func referenceLookup(frame []byte, bodyStart int, name string) (string, bool) {
	rest := frame[bodyStart:]
	for len(rest) > 0 {
		line, after, found := bytes.Cut(rest, []byte("\n"))
		if len(line) == 0 && found {
			break
		}
		if len(line) > len(name) && line[len(name)] == ':' && strings.EqualFold(string(line[:len(name)]), name) {
			v := bytes.TrimLeft(line[len(name)+1:], " \t")
			return decodePercent(bytes.TrimSuffix(v, []byte("\r"))), true
		}
		rest = after
	}
	return "", false
}

var reviewNames = []string{
	"Event-Name", "event-name", "EVENT-NAME", "Event-Nam", "Event-Namex", "Event-Subclass",
	"Unique-ID", "unique-id", "Unique-IDs", "Core-UUID", "Job-UUID", "Hangup-Cause",
	"Application", "application", "Application-UUID", "Application-Data", "Application-Response",
	"Application-UUIDx", "Applicatio", "Application-Foo", "variable_x", "Caller-ID", "X",
}

var reviewValues = []string{"", " ", "v", "a%20b", "%zz", "\t tabbed", "CHANNEL_EXECUTE", "trailing\r", "\r",
	strings.Repeat("long", 40)}

// reviewEvent builds a plain event of exactly size bytes (when size > 0)
// from random header lines: hot and near-hot names in any case, empty
// values, CRLF, lines without a colon, duplicates; unterminated: the last
// header line has no newline and ends the frame.
func reviewEvent(rng *rand.Rand, size int, unterminated bool) []byte {
	var lines []string
	budget := size - 300
	if size <= 0 {
		budget = rng.IntN(3000)
	}
	n := 0
	for n < budget {
		var line string
		switch rng.IntN(12) {
		case 0:
			line = "no colon here"
		case 1:
			line = ":empty name"
		default:
			line = reviewNames[rng.IntN(len(reviewNames))] + ":" + reviewValues[rng.IntN(len(reviewValues))]
		}
		if rng.IntN(4) == 0 {
			line += "\r"
		}
		lines = append(lines, line)
		n += len(line) + 1
	}
	build := func(pad int) []byte {
		var b strings.Builder
		for i, l := range lines {
			if i == len(lines)/2 {
				b.WriteString("X-Pad: " + strings.Repeat("p", pad) + "\n")
			}
			b.WriteString(l + "\n")
		}
		body := b.String()
		if unterminated {
			body = strings.TrimSuffix(body, "\n")
		} else {
			body += "\n"
		}
		return []byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body))
	}
	if size <= 0 {
		return build(rng.IntN(10))
	}
	pad := 0
	for i := 0; i < 3; i++ { // the Content-Length's digits may change with the pad
		pad += size - len(build(pad))
	}
	f := build(pad)
	if len(f) != size {
		panic(fmt.Sprintf("built %d bytes, want %d", len(f), size))
	}
	return f
}

// TestPlainLookupMatchesReference parses random plain events, some of
// exactly 65,535 and 65,536 bytes (the last with uint16, the first with
// uint32 line ends) and some ending in a header line without its newline,
// through the Reader and through scratch indexes of several sizes, and
// compares every lookup with referenceLookup.
func TestPlainLookupMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	sizes := []int{maxNarrow - 1, maxNarrow, maxNarrow + 1, maxNarrow + 2, 0, 0, 0, 0}
	for round := 0; round < 6; round++ {
		for _, size := range sizes {
			for _, unterminated := range []bool{false, true} {
				frame := reviewEvent(rng, size, unterminated)
				hdrLen := bytes.Index(frame, []byte("\n\n")) + 2
				m, n, err := ParseMessage(frame)
				if err != nil || n != len(frame) {
					t.Fatalf("%d bytes: n=%d err=%v", len(frame), n, err)
				}
				ms := []*Message{m}
				for _, s := range []int{0, 1, 3, 128} {
					mm, err := parseFrameWith(frame, hdrLen, make([]uint32, s))
					if err != nil {
						t.Fatalf("%d bytes, scratch %d: %v", len(frame), s, err)
					}
					ms = append(ms, mm)
				}
				for _, name := range reviewNames {
					want, wantOK := referenceLookup(frame, hdrLen, name)
					for k, mm := range ms {
						if got, ok := mm.Lookup(name); got != want || ok != wantOK {
							t.Fatalf("%d-byte event (unterminated %v, parse %d): Lookup(%q) = %q, %v; want %q, %v",
								len(frame), unterminated, k, name, got, ok, want, wantOK)
						}
					}
				}
				if got := m.OuterHeader("content-type"); got != "text/event-plain" {
					t.Fatalf("%d bytes: Content-Type %q", len(frame), got)
				}
			}
		}
	}
}
