package amitest

import (
	"strings"
	"testing"
	"time"
)

// The stimulus events of 69_filter_syntax_variants_control, emitted through
// the fake, reach each variant's session exactly as the summary says:
// `name(A|B)` in Filter or MatchCriteria matches nothing, the legacy regex,
// header regex and one-name-per-filter forms select the three events, an
// exclude-only filter passes everything else, name+header exact selects one
// UserEvent.
func TestFilterSyntaxVariants(t *testing.T) {
	control := loadCapture(t, "69_filter_syntax_variants_control")
	stimulus := map[string]bool{"DeviceStateChange": true, "ExtensionStatus": true, "QueueMemberAdded": true,
		"QueueMemberRemoved": true, "QueueMemberStatus": true, "UserEvent": true}
	var events []captured
	for _, m := range control {
		if m.Dir == "S->C" && stimulus[m.get("Event")] {
			events = append(events, m)
		}
	}
	if len(events) != 14 {
		t.Fatalf("control capture: %d stimulus events, want 14", len(events))
	}
	want := map[string]map[string]int{
		"a_filter_header_advanced_syntax": {},
		"b_matchcriteria_name_with_pipe":  {},
		"c_legacy_regex_alternation":      {"ExtensionStatus": 2, "QueueMemberAdded": 1, "UserEvent": 2},
		"d_header_event_regex":            {"ExtensionStatus": 2, "QueueMemberAdded": 1, "UserEvent": 2},
		"e_three_name_filters":            {"ExtensionStatus": 2, "QueueMemberAdded": 1, "UserEvent": 2},
		"f_exclude_only":                  {"ExtensionStatus": 2, "QueueMemberAdded": 1, "QueueMemberRemoved": 1, "QueueMemberStatus": 2, "UserEvent": 2},
		"g_name_plus_header_regex":        {"UserEvent": 1},
	}
	for variant, counts := range want {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			srv := NewServer(Config{})
			defer srv.Close()
			c := dial(t, srv.Addr)
			acts := clientActions(t, "69_filter_syntax_variants_"+variant)
			c.mustRead(time.Second) // banner
			for _, a := range acts {
				if strings.Contains(string(a), "Action: Logoff") {
					continue
				}
				c.write(string(a))
			}
			// wait until every filter is in force: a Ping is answered after them
			c.write("Action: Ping\r\nActionID: sync\r\n\r\n")
			for c.mustRead(time.Second).get("ActionID") != "sync" {
			}
			for _, e := range events {
				var rest []Header
				for _, h := range e.Headers[2:] {
					rest = append(rest, Header{h[0], h[1]})
				}
				class, _, _ := strings.Cut(e.get("Privilege"), ",")
				srv.Emit(e.get("Event"), class, rest...)
			}
			c.write("Action: Ping\r\nActionID: end\r\n\r\n")
			got := map[string]int{}
			for {
				m := c.mustRead(time.Second)
				if m.get("ActionID") == "end" {
					break
				}
				if stimulus[m.get("Event")] {
					got[m.get("Event")]++
				}
			}
			if len(got) != len(counts) {
				t.Errorf("events %v, want %v", got, counts)
			}
			for k, n := range counts {
				if got[k] != n {
					t.Errorf("%s: %d, want %d (all: %v)", k, got[k], n, got)
				}
			}
		})
	}
}

// EventMask call,agent hides the dialplan (VarSet, Newexten) and cdr (Cdr)
// classes of an Originate, and a Filter never hides responses (05_*, 15_*).
func TestEventMaskHidesDialplanAndCdr(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	c := login(t, srv, "call,agent")
	c.write("Action: Filter\r\nActionID: f\r\nOperation: Add\r\nMatchCriteria: action(include),name(Hangup)\r\nFilter: \r\n\r\n")
	if m := c.mustRead(time.Second); m.get("Message") != "Success" {
		t.Fatalf("filter: %v", m.headers)
	}
	c.write("Action: Originate\r\nActionID: o\r\nChannel: Local/200@test\r\nContext: test\r\nExten: 100\r\nPriority: 1\r\nAsync: true\r\n\r\n")
	hangups := 0
	deadline := time.Now().Add(3 * time.Second)
	for hangups < 3 && time.Now().Before(deadline) {
		m := c.mustRead(3 * time.Second)
		switch m.get("Event") {
		case "Hangup":
			hangups++
		case "":
			if m.get("ActionID") != "o" || m.get("Response") != "Success" {
				t.Errorf("reply %v", m.headers)
			}
		default:
			t.Errorf("event %s passed mask call,agent + filter Event: Hangup", m.get("Event"))
		}
	}
	if hangups != 3 {
		t.Errorf("%d Hangup events, want 3 (;1, ;2, OutgoingSpoolFailed)", hangups)
	}
	c.write("Action: Events\r\nActionID: e\r\nEventMask: off\r\n\r\n")
	if m := c.mustRead(time.Second); m.get("Events") != "Off" {
		t.Errorf("Events off: %v", m.headers)
	}
}

// EmitRaw passes bytes through untouched (the bare-LF Agents item of 70_*).
func TestEmitRaw(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	c := login(t, srv, "on")
	off := login(t, srv, "off")
	c.write("Action: Ping\r\nActionID: p\r\n\r\n")
	for c.mustRead(time.Second).get("ActionID") != "p" {
	}
	raw := "Event: Agents\r\nAgent: 1001\r\nCallStarted: 1796112741\nLoggedInTime: 1796112736\r\n\r\n"
	srv.EmitRaw([]byte(raw))
	m := c.mustRead(time.Second)
	if m.raw != raw {
		t.Errorf("got %q, want %q", m.raw, raw)
	}
	if m.get("LoggedInTime") != "1796112736" {
		t.Errorf("bare-LF header not split: %v", m.headers)
	}
	off.write("Action: Ping\r\nActionID: q\r\n\r\n")
	if m := off.mustRead(time.Second); m.get("ActionID") != "q" {
		t.Errorf("events-off session got %v", m.headers)
	}
}

// Refused filters get Asterisk's texts (manager.c action_filter).
func TestFilterErrors(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Close()
	c := login(t, srv, "off")
	for _, tc := range []struct{ action, want string }{
		{"Operation: Add\r\nFilter: Event: (Unclosed\r\n", "Filter did not compile.  Check the syntax of the filter given."},
		{"Operation: Add\r\nMatchCriteria: action(maybe)\r\nFilter: \r\n", "Filter was formatted incorrectly.  Check the syntax of the filter given."},
		{"Filter: Event: Hangup\r\n", "Unknown operation"},
	} {
		m := c.action("Action: Filter\r\nActionID: f\r\n"+tc.action+"\r\n", "f", false)[0]
		if m.get("Response") != "Error" || m.get("Message") != tc.want {
			t.Errorf("%q: %v", tc.action, m.headers)
		}
	}
}
