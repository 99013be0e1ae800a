package esl

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsivr/fsivr/internal/capture"
)

// fixtureDir holds the FreeSWITCH 1.10.12 captures, copied from
// shared/fixtures/freeswitch (its README is there too).
const fixtureDir = "testdata/freeswitch"

// readFixture returns a capture; a missing one fails the test.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	return capture.Load(t, filepath.Join(fixtureDir, name))
}

// readAll parses every message in b.
func readAll(t testing.TB, b []byte) []*Message {
	t.Helper()
	r := NewReader(bytes.NewReader(b), 0)
	var msgs []*Message
	for {
		m, err := r.ReadMessage()
		if errors.Is(err, io.EOF) {
			return msgs
		}
		if err != nil {
			t.Fatalf("message %d: %v", len(msgs), err)
		}
		msgs = append(msgs, m)
	}
}

func TestFixturesParseCompletely(t *testing.T) {
	dir := fixtureDir
	files := capture.Glob(t, filepath.Join(dir, "*.rx.bin"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".rx.bin")
		t.Run(name, func(t *testing.T) {
			b := capture.Load(t, f)
			transcript := capture.Load(t, filepath.Join(dir, name+".transcript.txt"))
			want := strings.Count("\n"+string(transcript), "\n#### <<<")
			capture.ForEachChunking(t, b, func(t *testing.T, src io.Reader) {
				r := NewReader(src, 0)
				got := 0
				for {
					m, err := r.ReadMessage()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("message %d: %v", got, err)
					}
					if m.Kind() == KindUnknown {
						t.Errorf("message %d has unknown kind: %q", got, m.ContentType())
					}
					if m.Kind() == KindEvent && m.Name() == "" {
						t.Errorf("event %d without Event-Name", got)
					}
					got++
				}
				if got != want {
					t.Errorf("parsed %d messages, transcript has %d", got, want)
				}
			})
		})
	}
}

func TestFixtureSpotChecks(t *testing.T) {
	s1 := readAll(t, readFixture(t, "s1_outbound_full.rx.bin"))
	cd := s1[0]
	if cd.Kind() != KindCommandReply {
		t.Fatalf("first s1 message is %v", cd.Kind())
	}
	cd.format = FormatChannelData // what the outbound handshake does
	if got := cd.Get("Unique-ID"); got != "07fc0b40-f3ec-4124-b973-b722554fe3af" {
		t.Errorf("connect Unique-ID = %q", got)
	}
	if got := cd.Get("Reply-Text"); got != "+OK\n" {
		t.Errorf("connect Reply-Text = %q", got)
	}
	if got := cd.Get("variable_current_application_data"); got != "127.0.0.1:8084 async full" {
		t.Errorf("channel data variable = %q", got)
	}

	// Every Event-UUID we sent comes back as the Application-UUID of a completion.
	tx := readAll(t, readFixture(t, "s1_outbound_full.tx.bin"))
	completions := map[string]*Message{}
	for _, m := range s1 {
		if m.Name() == "CHANNEL_EXECUTE_COMPLETE" {
			completions[m.Get("Application-UUID")] = m
		}
	}
	sent := 0
	for _, m := range tx {
		id := m.OuterHeader("Event-UUID")
		if id == "" {
			continue
		}
		sent++
		if completions[id] == nil {
			t.Errorf("no completion with Application-UUID %s", id)
		}
	}
	if sent < 5 {
		t.Errorf("only %d sendmsg with Event-UUID in the tx file", sent)
	}
	pagd := completions["65c2a0fc-7897-498f-a61d-07fe07a20c93"]
	if pagd == nil || pagd.Get("variable_menu_number") != "2" || pagd.Get("variable_read_result") != "success" {
		t.Errorf("play_and_get_digits completion: %v", pagd)
	}
	bridge := completions["51edaac4-aa22-4580-8582-ed4267cc7a7d"]
	if bridge == nil || bridge.Get("variable_originate_disposition") != "USER_NOT_REGISTERED" {
		t.Errorf("bridge completion: %v", bridge)
	}

	in := readAll(t, readFixture(t, "in_plain_session.rx.bin"))
	var jobs []string
	for _, m := range in {
		if m.Name() == "BACKGROUND_JOB" {
			jobs = append(jobs, string(m.Body()))
		}
	}
	if len(jobs) != 4 || jobs[0] != "+OK 4f941619-9a4a-4dd2-bb3c-cfa69b6e5823\n" || jobs[2] != "-ERR NO_ROUTE_DESTINATION\n" {
		t.Errorf("BACKGROUND_JOB bodies: %q", jobs)
	}

	js := readAll(t, readFixture(t, "in_json_session.rx.bin"))
	found := false
	for _, m := range js {
		if m.Name() == "BACKGROUND_JOB" {
			found = true
			if string(m.Body()) != "+OK 190aed31-e0e8-4627-9685-f75900e5ad37\n" || m.Get("Job-UUID") != "31adc0a6-d2f8-4d8f-ae7a-629746774636" {
				t.Errorf("JSON BACKGROUND_JOB body %q job %q", m.Body(), m.Get("Job-UUID"))
			}
		}
	}
	if !found {
		t.Error("no JSON BACKGROUND_JOB")
	}

	xmlMsgs := readAll(t, readFixture(t, "in_xml_session.rx.bin"))
	names := 0
	for _, m := range xmlMsgs {
		if m.Format() == FormatXML {
			if m.Name() == "" {
				t.Error("XML event without name")
			}
			names++
		}
		if m.Name() == "BACKGROUND_JOB" && !strings.HasPrefix(string(m.Body()), "+OK ") {
			t.Errorf("XML job body %q", m.Body())
		}
	}
	if names == 0 {
		t.Error("no XML events")
	}

	// Lossy encoding: literal "%41" in a set arg comes back as "A" (s1e).
	s1e := readAll(t, readFixture(t, "s1e_outbound_execute_variants.rx.bin"))
	for _, m := range s1e {
		if m.Name() == "CHANNEL_EXECUTE_COMPLETE" && m.Get("Application") == "set" && strings.Contains(m.Get("Application-Data"), "long_var") {
			if !strings.Contains(m.Get("Application-Data"), "percent A and") {
				t.Errorf("s1e Application-Data %q", m.Get("Application-Data"))
			}
		}
	}
}
