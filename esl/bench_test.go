package esl

import (
	"bufio"
	"bytes"
	"net/textproto"
	"net/url"
	"strconv"
	"testing"
)

// findFrame returns the raw bytes of the first message in a fixture for
// which match is true.
func findFrame(b testing.TB, fixture string, match func(*Message) bool) []byte {
	b.Helper()
	for _, m := range readAll(b, readFixture(b, fixture)) {
		if match(m) {
			return bytes.Clone(m.Raw())
		}
	}
	b.Fatalf("no matching message in %s", fixture)
	return nil
}

// pagdComplete is the real CHANNEL_EXECUTE_COMPLETE of play_and_get_digits.
func pagdComplete(b testing.TB) []byte {
	return findFrame(b, "s1_outbound_full.rx.bin", func(m *Message) bool {
		return m.Name() == "CHANNEL_EXECUTE_COMPLETE" && m.Get("Application") == "play_and_get_digits"
	})
}

func BenchmarkParseExecuteComplete(b *testing.B) {
	benchParse(b, pagdComplete(b), "Application-UUID")
}

// benchParse parses frame once per iteration; header must come out of it.
func benchParse(b *testing.B, frame []byte, header string) {
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		m, _, err := parseOne(frame)
		if err != nil {
			b.Fatal(err)
		}
		if m.Get(header) == "" {
			b.Fatal("no " + header)
		}
	}
}

// BenchmarkIndexByteFloor is the floor the parse is held to: one
// bytes.IndexByte per line over the same frame (every line end found once,
// nothing copied, nothing recorded). Run it in the same invocation as
// BenchmarkParseExecuteComplete and compare the two ns/op.
func BenchmarkIndexByteFloor(b *testing.B) {
	frame := pagdComplete(b)
	b.SetBytes(int64(len(frame)))
	lines := 0
	for b.Loop() {
		lines = 0
		for p := 0; p < len(frame); {
			nl := bytes.IndexByte(frame[p:], '\n')
			if nl < 0 {
				break
			}
			p += nl + 1
			lines++
		}
	}
	if lines < 80 {
		b.Fatalf("%d lines in the frame, want the ~90 of the capture", lines)
	}
}

func BenchmarkParseExecuteCompleteJSON(b *testing.B) {
	frame := findFrame(b, "in_json_session.rx.bin", func(m *Message) bool {
		return m.Name() == "CHANNEL_HANGUP_COMPLETE"
	})
	benchParse(b, frame, "Unique-ID")
}

// parseOne frames and parses one whole message held in frame, the way the
// Reader does once the bytes are buffered (no io.Reader plumbing measured).
func parseOne(frame []byte) (*Message, int, error) {
	var pre [preSlots]uint32
	oh, err := scanOuter(frame, pre[:])
	if err != nil {
		return nil, 0, err
	}
	hdrEnd, n := oh.hdrLen, oh.bodyLen
	m, err := parseScanned(frame[:hdrEnd+n], hdrEnd, pre[:], oh)
	return m, hdrEnd + n, err
}

// baselineParse is the straightforward way: net/textproto for both header
// blocks, url.QueryUnescape for every value, a map for lookups.
func baselineParse(frame []byte) (map[string]string, error) {
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(frame)))
	outer, err := tr.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(outer.Get("Content-Length"))
	if err != nil {
		return nil, err
	}
	body := make([]byte, n)
	if _, err := tr.R.Read(body); err != nil {
		return nil, err
	}
	inner, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(body))).ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	ev := make(map[string]string, len(inner))
	for k, vs := range inner {
		v, err := url.QueryUnescape(vs[0])
		if err != nil {
			v = vs[0]
		}
		ev[k] = v
	}
	return ev, nil
}

func BenchmarkBaselineTextproto(b *testing.B) {
	frame := pagdComplete(b)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		ev, err := baselineParse(frame)
		if err != nil {
			b.Fatal(err)
		}
		if ev["Application-Uuid"] == "" {
			b.Fatal("no Application-UUID")
		}
	}
}

func BenchmarkEncodeSendmsg(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendSendmsg(buf[:0], "play_and_get_digits",
			"1 1 3 5000 # ivr/menu.wav ivr/invalid.wav menu_number [1-5]",
			"65c2a0fc-7897-498f-a61d-07fe07a20c93", true)
	}
	b.SetBytes(int64(len(buf)))
}
