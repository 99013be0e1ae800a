package amitest

import (
	"strings"
	"testing"
	"time"
)

// Each capture's client bytes replayed against the fake give the same
// messages, header for header, as the real Asterisk sent: login, MD5,
// events and filters, errors, and every Originate outcome.
func TestReplayCaptures(t *testing.T) {
	for _, name := range []string{
		"01_login_wrong_secret",
		"02_login_events_filter_ping_errors_logoff",
		"03_action_before_login",
		"04_login_md5_challenge",
		"10_originate_local100_answer",
		"11_originate_local200_busy",
		"12_originate_local300_noanswer_t5000",
		"13_originate_local999_nosuchexten",
		"14_originate_foo_badtech",
		"16_originate_sync_local200_busy",
		"17_originate_local400_channelid",
		"18_originate_target_exten_missing",
		"19_originate_sync_local400_answer",
		"20_originate_local400_app_wait",
		"21_originate_local300_noanswer_t5000_sync",
		"23_originate_local250_congestion",
		"24_originate_local260_reject_before_answer",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// 04's Key was computed from this challenge.
			srv := NewServer(Config{Challenge: "698251592"})
			defer srv.Close()
			sync := strings.Contains(name, "_sync")
			replayOpt(t, srv, name, sync)
		})
	}
}

// The queue member session (61_*) against a fake configured like the
// captured Asterisk: every reply, error text, list item and member event.
func TestReplayQueueActions(t *testing.T) {
	srv := NewServer(Config{
		Queues: []Queue{
			{Name: "agentsq"},
			{Name: "sales", Members: []Member{{Interface: "Local/400@test/n", Name: "Static400", Static: true}}},
		},
		Hints: []Hint{{Exten: "500", Context: "agents", Hint: "Custom:agent500"}},
		// both were set in the session before (60_*), so astdb has them
		Devices: []Device{{Name: "Custom:agent500", State: "NOT_INUSE"}, {Name: "Custom:agent501", State: "NOT_INUSE"}},
	})
	defer srv.Close()
	replayOpt(t, srv, "61_queue_members_pause_add_remove", true)
}

// With manager.conf channelvars (22_*), every channel event carries its
// ChanVariable headers, and OriginateResponse ChanVariable(<channel>).
// The same call as 17_*, whose run raced differently (DialBegin before the
// ;2 Newexten, the Cdrs last), so the events are matched in any order.
func TestReplayChannelVars(t *testing.T) {
	srv := NewServer(Config{ChannelVars: []string{"CALLID", "AST_OUTGOING_ATTEMPT"}})
	defer srv.Close()
	replayOpt(t, srv, "22_originate_local400_with_manager_channelvars", true)
}

// The click-to-calls of 67_*: the agent leg answers, then the customer leg
// is busy (c67-b) or answers (c67-a); the fake sends the same events,
// header for header, as the real session sent for that call.
func TestClickToCall(t *testing.T) {
	caps := loadCapture(t, "67_originate_into_queue_clicktocall")
	for _, tc := range []struct{ chid, dialStatus string }{{"c67-b", "BUSY"}, {"c67-a", "ANSWER"}} {
		t.Run(tc.chid, func(t *testing.T) {
			var want []captured
			var orig captured
			uids := map[string]bool{}
			taking := false
			for _, m := range caps {
				if m.Dir == "C->S" {
					if m.get("Action") == "Originate" {
						taking = m.get("ChannelId") == tc.chid
						if taking {
							orig = m
						}
					}
					continue
				}
				if !taking || m.get("Event") == "" {
					continue
				}
				if m.get("Linkedid") == tc.chid || m.get("DestLinkedid") == tc.chid || m.get("ActionID") == orig.get("ActionID") || uids[m.get("UniqueID")] {
					for _, k := range []string{"Uniqueid", "DestUniqueid"} {
						if v := m.get(k); v != "" {
							uids[v] = true
						}
					}
					want = append(want, m)
				}
			}
			if len(want) < 50 {
				t.Fatalf("capture: %d events for %s", len(want), tc.chid)
			}
			srv := NewServer(Config{})
			defer srv.Close()
			c := login(t, srv, "on")
			var action strings.Builder
			for _, h := range orig.Headers {
				action.WriteString(h[0] + ": " + h[1] + "\r\n")
			}
			c.write(action.String() + "\r\n")
			var got []msg
			for len(got) < len(want) {
				m, err := c.read(2 * time.Second)
				if err != nil {
					t.Fatalf("got %d of %d events: %v; last %v", len(got), len(want), err, kinds(got[max(0, len(got)-5):]))
				}
				if m.get("Event") == "" || m.get("Event") == "FullyBooted" || m.get("Event") == "SuccessfulAuth" {
					continue
				}
				got = append(got, m)
			}
			matchUnordered(t, "67_*/"+tc.chid, want, got)
			var dialEnd, resp msg
			for _, m := range got {
				switch {
				case m.get("Event") == "DialEnd" && m.get("DestLinkedid") == tc.chid && strings.HasPrefix(m.get("Channel"), "Local/530"):
					dialEnd = m
				case m.get("Event") == "OriginateResponse":
					resp = m
				}
			}
			if resp.get("Reason") != "4" || dialEnd.get("DialStatus") != tc.dialStatus {
				t.Errorf("OriginateResponse %v, customer DialEnd %v", resp.headers, dialEnd.headers)
			}
		})
	}
}
