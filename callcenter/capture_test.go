package callcenter

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/ami"
)

// msg is one captured message: ordered headers, looked up
// case-insensitively like ami.Message.
type msg struct {
	t       float64
	fromSrv bool
	headers [][2]string
}

func (m msg) Get(key string) string {
	for _, h := range m.headers {
		if strings.EqualFold(h[0], key) {
			return h[1]
		}
	}
	return ""
}

func fields(kv ...string) msg {
	m := msg{fromSrv: true}
	for i := 0; i+1 < len(kv); i += 2 {
		m.headers = append(m.headers, [2]string{kv[i], kv[i+1]})
	}
	return m
}

// loadCapture reads testdata/<name>.jsonl (copied from
// shared/fixtures/asterisk). A missing file fails the test.
func loadCapture(t testing.TB, name string) []msg {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".jsonl"))
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	defer f.Close()
	var out []msg
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var line struct {
			T       float64     `json:"t"`
			Dir     string      `json:"dir"`
			Headers [][2]string `json:"headers"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("capture %s: %v", name, err)
		}
		out = append(out, msg{t: line.T, fromSrv: line.Dir == "S->C", headers: line.Headers})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("capture %s is empty", name)
	}
	return out
}

// liveEvents are the server's events that are not list items (no
// ActionID) — what the model sees on the shared connection.
func liveEvents(ms []msg) []msg {
	var out []msg
	for _, m := range ms {
		if m.fromSrv && m.Get("Event") != "" && (m.Get("ActionID") == "" || m.Get("Event") == "OriginateResponse") {
			out = append(out, m)
		}
	}
	return out
}

// listItems are the items of the list action whose ActionID starts with prefix.
func listItems(ms []msg, prefix string) []Fields {
	var out []Fields
	for _, m := range ms {
		if m.fromSrv && m.Get("Event") != "" && strings.HasPrefix(m.Get("ActionID"), prefix) && m.Get("EventList") == "" {
			out = append(out, m)
		}
	}
	return out
}

func replay(m *Model, ms []msg) []Event {
	var out []Event
	for _, e := range ms {
		out = append(out, m.Apply(e)...)
	}
	return out
}

// rawLiveEvents reads testdata/<name>.s2c.raw (the server's bytes, byte
// for byte) with package ami's reader and returns the live events, as
// liveEvents does for the .jsonl.
func rawLiveEvents(t testing.TB, name string) []Fields {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".s2c.raw"))
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	defer f.Close()
	rd := ami.NewReader(f, 0)
	if _, err := rd.ReadBanner(); err != nil {
		t.Fatalf("%s: banner: %v", name, err)
	}
	var out []Fields
	for {
		m, err := rd.ReadMessage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.IsEvent() && (m.ActionID() == "" || m.Name() == "OriginateResponse") {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("capture %s has no events", name)
	}
	return out
}

func replayFields(m *Model, evs []Fields) []Event {
	var out []Event
	for _, e := range evs {
		out = append(out, m.Apply(e)...)
	}
	return out
}
