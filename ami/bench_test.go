package ami

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsivr/fsivr/ami/amitest"
)

// loopReader replays data forever, so one benchmark op is one message.
type loopReader struct {
	data []byte
	pos  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.pos == len(l.data) {
		l.pos = 0
	}
	n := copy(p, l.data[l.pos:])
	l.pos += n
	return n, nil
}

// loadSession is the listener side of the 20-client load capture (68_*):
// 1,425 messages of what a dialer's event stream really carries.
func loadSession(b *testing.B) []byte {
	raw := readTestdata(b, "68_many_clients_load_listener01.s2c.raw")
	i := bytes.IndexByte(raw, '\n')
	return raw[i+1:] // without the banner
}

// oneEvent returns the first captured message of the named event.
func oneEvent(b *testing.B, name string) []byte {
	msgs, err := readMessages(NewReader(bytes.NewReader(loadSession(b)), 0))
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range msgs {
		if m.Name() == name {
			return bytes.Clone(m.Raw())
		}
	}
	b.Fatalf("no %s in the load capture", name)
	return nil
}

var sink string

var benchCallSeq atomic.Uint64

// Per message: frame, index, and two lookups (Event and Uniqueid), the
// work a dialer's event loop does.
func benchAMI(b *testing.B, data []byte) {
	r := NewReader(&loopReader{data: data}, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		m, err := r.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		sink = m.Name()
		sink = m.Get("Uniqueid")
	}
}

// The naive baseline: bufio + textproto.ReadMIMEHeader into a map.
func benchNaive(b *testing.B, data []byte) {
	tp := textproto.NewReader(bufio.NewReader(&loopReader{data: data}))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h, err := tp.ReadMIMEHeader()
		if err != nil && err != io.EOF {
			b.Fatal(err)
		}
		sink = h.Get("Event")
		sink = h.Get("Uniqueid")
	}
}

// The floor: one bytes.Index per message to find its end.
func benchFloor(b *testing.B, data []byte) {
	b.ReportAllocs()
	b.ResetTimer()
	pos := 0
	for range b.N {
		i := bytes.Index(data[pos:], []byte("\r\n\r\n"))
		if i < 0 {
			pos = 0
			i = bytes.Index(data, []byte("\r\n\r\n"))
		}
		pos += i + 4
		if pos >= len(data) {
			pos = 0
		}
	}
}

func BenchmarkParse(b *testing.B) {
	inputs := map[string][]byte{
		"Newchannel":  oneEvent(b, "Newchannel"),
		"Hangup":      oneEvent(b, "Hangup"),
		"LoadSession": loadSession(b),
	}
	for _, name := range []string{"Newchannel", "Hangup", "LoadSession"} {
		data := inputs[name]
		for _, impl := range []struct {
			name string
			fn   func(*testing.B, []byte)
		}{{"ami", benchAMI}, {"naive", benchNaive}, {"floor", benchFloor}} {
			b.Run(name+"/"+impl.name, func(b *testing.B) {
				impl.fn(b, data)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// trackerCalls prepares k copies of the answered call of session 10 with
// distinct ChannelIds, events parsed once.
func trackerCalls(b *testing.B, k int) ([]string, [][]*Message, Originate) {
	orig := Originate{Channel: "Local/100@test", Context: "test", Exten: "100", Timeout: 30 * time.Second}
	ids := make([]string, k)
	evs := make([][]*Message, k)
	for i := range k {
		ids[i] = "bench-" + strconv.Itoa(i)
		raw := asChannelID(ids[i])(string(readTestdata(b, "10_originate_local100_answer.s2c.raw")))
		r := NewReader(bytes.NewReader([]byte(raw)), 0)
		if _, err := r.ReadBanner(); err != nil {
			b.Fatal(err)
		}
		msgs, err := readMessages(r)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if m.IsEvent() {
				evs[i] = append(evs[i], m)
			}
		}
	}
	return ids, evs, orig
}

// One op is one call through the pure Tracker: Place, Sent and every event
// of a real answered call (28 events, 1,000 calls in flight around it).
func BenchmarkTrackerCall(b *testing.B) {
	const inFlight = 1000
	ids, evs, orig := trackerCalls(b, inFlight+1)
	tr := NewTracker()
	now := time.Now()
	for i := range inFlight { // calls that stay in flight
		if _, err := tr.Place(ids[i], orig, now); err != nil {
			b.Fatal(err)
		}
	}
	id, call := ids[inFlight], evs[inFlight]
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Place(id, orig, now); err != nil {
			b.Fatal(err)
		}
		tr.Sent(id, nil, now)
		done := false
		for _, m := range call {
			if _, ok := tr.Feed(m, now); ok {
				done = true
			}
		}
		if !done {
			b.Fatal("the call did not end")
		}
	}
	b.ReportMetric(float64(len(call)), "events/call")
}

// 1,000 Originates through one connection to the fake Asterisk, tracked to
// their outcomes (the fake's own work is included).
//
// The fake gets a 5 s writetimeout: on a loaded machine the client can fall
// 100 ms (Asterisk's default) behind the burst of 1,000 calls' events and
// be cut, which ends calls in flight as timeouts; the slow-client cut is
// TestSlowClientCut's subject, not this benchmark's.
func BenchmarkE2E1000Originates(b *testing.B) {
	srv := amitest.NewServer(amitest.Config{Logger: quiet, WriteTimeout: 5 * time.Second, Outcome: func(amitest.Originate) amitest.Outcome {
		return amitest.Outcome{Kind: amitest.Busy}
	}})
	defer srv.Close()
	c, err := dialQuiet(context.Background(), srv.Addr, "secret")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sub := c.Subscribe(trackedEvents...)
	t := &testing.T{}
	timeouts := 0
	b.ResetTimer()
	for range b.N {
		// Ids unique across the benchmark's runs on one fake: a ChannelId
		// must never be reused while its late events may still come.
		calls := map[string]Originate{}
		for range 1000 {
			calls[fmt.Sprintf("b%d", benchCallSeq.Add(1))] = Originate{Channel: "Local/200@test", Context: "test", Exten: "100"}
		}
		outs := track(t, c, sub, NewTracker(), calls)
		if len(outs) != 1000 || t.Failed() {
			b.Fatalf("%d outcomes", len(outs))
		}
		for _, o := range outs {
			switch o.Disposition {
			case Busy:
			case Timeout:
				// Open (2026-12-01): about one run in five, at 5f4e857 as
				// now, one of the 1,000 calls gets no OriginateResponse
				// although the fake finished it (none in flight); cause not
				// found yet. Counted and logged here so the figure stays
				// visible without failing CI's smoke run; any other outcome
				// fails.
				timeouts++
				b.Logf("no OriginateResponse for %s (open bug, see the note in BENCHMARKS.md)", o.ID)
			default:
				b.Fatalf("outcome %+v", o)
			}
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64(timeouts)/float64(b.N), "timeouts/op")
}
