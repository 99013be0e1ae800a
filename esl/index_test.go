package esl

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/fsivr/fsivr/internal/capture"
)

func TestHotFilter(t *testing.T) {
	var f hotFilter
	if o := [4]uintptr{unsafe.Offsetof(f.second), unsafe.Offsetof(f.fold), unsafe.Offsetof(f.words), unsafe.Offsetof(f.avx2)}; o != [4]uintptr{256, 264, 272, 384} {
		t.Fatalf("hotFilter field offsets %v; index_amd64.s reads 256, 264, 272, 384", o)
	}
	lines := []string{"Event-Name: x", "event-subclass: y", "EVENT-SEQUENCE: 1", "Event-Date-GMT: z",
		"Application-UUID: u", "Hangup-Cause: NORMAL", "Channel-Name: x", "Unique-ID: z", "Job-UUID: j",
		"Content-Length: 1", "Core-UUID: c", "Caller-Unique-ID: c", "variable_x: y", "Unique-I", "Event-Na:"}
	for _, line := range lines {
		w := uint64(0)
		if len(line) >= 8 {
			w = binary.LittleEndian.Uint64([]byte(line)) | foldWord
		}
		want := len(line) > 8 && slices.Contains(hotPrefixes[:], w)
		if got := hotLines.candidate([]byte(line+"\n"), 0, len(line)); got != want {
			t.Errorf("%q: candidate %v, want %v", line, got, want)
		}
	}
	for _, name := range hotNames {
		if !hotLines.candidate([]byte(name+":"), 0, len(name)+1) {
			t.Errorf("%s: not a candidate", name)
		}
	}
}

// checkScanEventLines runs scanEventLines, with AVX2 where the CPU has it
// and without, and scanEventLinesGeneric on the same input and fails on
// any difference, in results or in what they wrote.
func checkScanEventLines(t *testing.T, b []byte, pos, nslots, i, ncand int) {
	t.Helper()
	noAVX2 := *hotLines
	noAVX2.avx2 = false
	checkScanEventLinesWith(t, b, pos, nslots, i, ncand, hotLines)
	checkScanEventLinesWith(t, b, pos, nslots, i, ncand, &noAVX2)
}

func checkScanEventLinesWith(t *testing.T, b []byte, pos, nslots, i, ncand int, f *hotFilter) {
	t.Helper()
	s1, s2 := make([]uint32, nslots), make([]uint32, nslots)
	c1, c2 := make([]uint32, ncand), make([]uint32, ncand)
	n1, p1, k1, st1 := scanEventLines(b, pos, s1, i, f, c1)
	n2, p2, k2, st2 := scanEventLinesGeneric(b, pos, s2, i, f, c2)
	if n1 != n2 || p1 != p2 || k1 != k2 || st1 != st2 {
		t.Fatalf("%q from %d, %d slots from %d, %d cand, avx2 %v: asm (%d %d %d %d), generic (%d %d %d %d)",
			b, pos, nslots, i, ncand, f.avx2, n1, p1, k1, st1, n2, p2, k2, st2)
	}
	if !slices.Equal(s1[:n1], s2[:n2]) || !slices.Equal(c1[:k1], c2[:k2]) {
		t.Fatalf("%q from %d, avx2 %v: asm wrote %v %v, generic %v %v", b, pos, f.avx2, s1[:n1], c1[:k1], s2[:n2], c2[:k2])
	}
}

func TestScanEventLinesMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"\n", "\n", "a", "Event-Name: x", "event-subclass: y", "Unique-ID: z",
		"application-uuid: u", "Hangup-Cause: NORMAL", "Channel-Name: sofia/x", "jo", "Co", "variable_x: %20"}
	for range 20000 {
		var b []byte
		for range rng.IntN(40) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		pos := 0
		if len(b) > 0 {
			pos = rng.IntN(len(b) + 1)
		}
		nslots := rng.IntN(12)
		checkScanEventLines(t, b, pos, nslots, rng.IntN(nslots+1), rng.IntN(4))
	}
	// Every length and offset around the 64- and 16-byte blocks.
	for _, unit := range []string{"applicat\nAp\n\nx\n", "Event-Name: x\nab\n", "Unique-ID-x\n"} {
		for n := range 200 {
			b := bytes.Repeat([]byte(unit), n/len(unit)+1)[:n]
			for pos := 0; pos <= n; pos++ {
				checkScanEventLines(t, b, pos, 40, 0, 3)
			}
		}
	}
}

func FuzzScanEventLines(f *testing.F) {
	f.Add([]byte("Event-Name: A\nUnique-ID: b\n\nbody"), uint8(0), uint8(8), uint8(2))
	f.Add(pagdComplete(f), uint8(50), uint8(100), uint8(4))
	f.Fuzz(func(t *testing.T, b []byte, pos, nslots, ncand uint8) {
		checkScanEventLines(t, b, min(int(pos), len(b)), int(nslots), 0, int(ncand))
	})
}

// allSlots is the spans of every slot of m's index, from slot.
func allSlots(m *Message) [][2]uint32 {
	var s [][2]uint32
	for i := range m.nFields {
		a, b := m.slot(i)
		s = append(s, [2]uint32{a, b})
	}
	return s
}

// sameMessage fails unless a and b were parsed alike: same bytes, kind,
// format, index and hot headers.
func sameMessage(t *testing.T, what string, a, b *Message) {
	t.Helper()
	if !bytes.Equal(a.Raw(), b.Raw()) || a.kind != b.kind || a.format != b.format ||
		a.nOuter != b.nOuter || a.nFields != b.nFields || a.cmdLen != b.cmdLen ||
		a.evBody != b.evBody || a.hasEvBody != b.hasEvBody || a.hot != b.hot ||
		a.wide != b.wide || !slices.Equal(allSlots(a), allSlots(b)) {
		t.Fatalf("%s: parsed differently:\n%+v\n%+v", what, *a, *b)
	}
}

// TestParseFrameScratchSizes parses every captured message, and plain
// events of every length up to 300 lines, with scratch indexes too short
// for them (the paths a long frame takes) and checks that the result is
// the same, and that a plain event's index is its lines and its hot
// headers their first occurrences.
func TestParseFrameScratchSizes(t *testing.T) {
	var frames [][]byte
	for _, name := range capture.Glob(t, filepath.Join(fixtureDir, "*.rx.bin")) {
		for _, m := range readAll(t, capture.Load(t, name)) {
			frames = append(frames, bytes.Clone(m.Raw()))
		}
	}
	var lines []string
	for n := range 300 {
		lines = append(lines, fmt.Sprintf("%s: %d", []string{"Event-Name", "Unique-ID", "X", "Application-Response", "Hangup-Cause"}[n%5], n))
		body := strings.Join(lines, "\n")
		frames = append(frames,
			fmt.Appendf(nil, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body),
			fmt.Appendf(nil, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s\n\n", len(body)+2, body))
	}
	plain := 0
	for _, frame := range frames {
		hdrLen := bytes.Index(frame, []byte("\n\n")) + 2
		want, err := parseFrame(frame, hdrLen)
		if err != nil {
			t.Fatalf("%.60q: %v", frame, err)
		}
		for _, size := range []int{0, 1, 2, 3, 5, 17, 64} {
			got, err := parseFrameWith(frame, hdrLen, make([]uint32, size))
			if err != nil {
				t.Fatalf("%.60q, scratch %d: %v", frame, size, err)
			}
			sameMessage(t, fmt.Sprintf("%.60q, scratch %d", frame, size), got, want)
		}
		if want.format == FormatPlain {
			plain++
			checkPlainIndex(t, want)
		}
	}
	if plain < 600 {
		t.Fatalf("only %d plain events checked", plain)
	}
}

// checkPlainIndex checks a plain event's index against the lines of its
// body, split the plain way.
func checkPlainIndex(t *testing.T, m *Message) {
	t.Helper()
	body := m.buf[m.bodyStart:m.frameLen]
	var want [][2]uint32
	var hot [numHot]uint16
	for p := 0; p < len(body); {
		le := bytes.IndexByte(body[p:], '\n')
		if le < 0 {
			le = len(body) - p
		}
		if le == 0 {
			break
		}
		line := body[p : p+le]
		slot := uint32(len(want)) + m.nOuter
		for k, name := range hotNames {
			if hot[k] == hotAbsent && len(line) > len(name) && line[len(name)] == ':' && equalFold(line[:len(name)], name) {
				hot[k] = uint16(slot + 1)
			}
		}
		want = append(want, [2]uint32{m.bodyStart + uint32(p), m.bodyStart + uint32(p+le)})
		p += le + 1
	}
	if got := allSlots(m)[m.nOuter:]; !slices.Equal(got, want) {
		t.Fatalf("%s: index %v, lines %v", m.Name(), got, want)
	}
	if m.hot != hot {
		t.Fatalf("%s: hot %v, first occurrences %v", m.Name(), m.hot, hot)
	}
}
