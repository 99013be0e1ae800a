package esl

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/internal/capture"
)

func TestHotPrefixes(t *testing.T) {
	for k, name := range hotNames {
		var w uint64
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(name[i])
		}
		if got := w | foldWord; got != hotPrefixes[k] {
			t.Errorf("%s: prefix %#x, table has %#x", name, got, hotPrefixes[k])
		}
		if hotKey(name) != k || hotKey(strings.ToLower(name)) != k || hotKey(strings.ToUpper(name)) != k {
			t.Errorf("%s: hotKey does not map every case to %d", name, k)
		}
	}
	for _, name := range []string{"", "Event-Nam", "Event-Names", "Application-Kind", "Unique-IX", "variable_uuid", "Event\rName"} {
		if k := hotKey(name); k >= 0 {
			t.Errorf("hotKey(%q) = %d, want -1", name, k)
		}
	}
}

// parsePlainEvent wraps event header lines in an outer text/event-plain frame.
func parsePlainEvent(t *testing.T, lines ...string) *Message {
	t.Helper()
	body := strings.Join(lines, "\n") + "\n\n"
	frame := fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(body), body)
	m, _, err := ParseMessage([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHotLookup(t *testing.T) {
	m := parsePlainEvent(t,
		"Event-Name: CHANNEL_EXECUTE_COMPLETE",
		"Unique-ID: first",
		"unique-id: second",         // repeated, other case: the first wins
		"Application-UUIDX: not-it", // longer name sharing the prefix
		"Application-UUID-Name: no", // ditto
		"Applicationx: no",          // one byte longer than Application
		"Event-Name",                // no colon: never a header
		"APPLICATION: Playback",     // case differs from the canonical
		"Application-Response: FILE%20PLAYED",
		"Event\rName: not a name", // folds like Event-Name under |0x20
		"variable_x: 1",
		"Application-UUID: at-the-end",
	)
	for _, tc := range []struct {
		name, want string
		ok         bool
	}{
		{"Event-Name", "CHANNEL_EXECUTE_COMPLETE", true},
		{"event-name", "CHANNEL_EXECUTE_COMPLETE", true},
		{"Unique-ID", "first", true},
		{"UNIQUE-ID", "first", true},
		{"Application", "Playback", true},
		{"application", "Playback", true},
		{"Application-Response", "FILE PLAYED", true},
		{"Application-UUID", "at-the-end", true},
		{"application-uuid", "at-the-end", true},
		{"Application-Data", "", false},
		{"Job-UUID", "", false},
		{"Hangup-Cause", "", false},
		{"Content-Length", "", false},
		{"Event-Subclass", "", false},
		{"variable_x", "1", true},
	} {
		got, ok := m.Lookup(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
		// The scan (what every other header uses) agrees with the index.
		vs, ve, found := m.scanFind(tc.name)
		if found != ok || (found && decodePercent(m.buf[vs:ve]) != got) {
			t.Errorf("%q: scan says %q, %v; index %q, %v", tc.name, m.buf[vs:ve], found, got, ok)
		}
	}
}

// TestHotLookupMatchesScanOnCaptures checks every hot header of every
// plain event in the captures against a full scan.
func TestHotLookupMatchesScanOnCaptures(t *testing.T) {
	checked := 0
	for _, name := range capture.Glob(t, filepath.Join(fixtureDir, "*.rx.bin")) {
		for _, m := range readAll(t, capture.Load(t, name)) {
			if m.Format() != FormatPlain {
				continue
			}
			for _, h := range hotNames {
				got, ok := m.Lookup(h)
				vs, ve, found := m.scanFind(h)
				if found != ok || (found && decodePercent(m.buf[vs:ve]) != got) {
					t.Fatalf("%s: %s %q: index %q %v, scan %q %v", name, m.Name(), h, got, ok, m.buf[vs:ve], found)
				}
				if ok {
					checked++
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d hot headers found in the captures", checked)
	}
}

// scanFind is find over the event headers without the hot index.
func (m *Message) scanFind(name string) (uint32, uint32, bool) {
	saved := m.hot
	for k := range m.hot {
		m.hot[k] = hotOverflow
	}
	defer func() { m.hot = saved }()
	return m.find(m.nOuter, m.nFields, name)
}
