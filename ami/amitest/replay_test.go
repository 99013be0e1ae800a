package amitest

import (
	"strings"
	"testing"
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
