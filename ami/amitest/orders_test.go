package amitest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// labelOf names a received event as 50_*.summary.json does.
func labelOf(m msg) string {
	ch := m.get("Channel")
	if m.get("Event") == "DialEnd" {
		ch = m.get("DestChannel")
	}
	switch e := m.get("Event"); e {
	case "OriginateResponse":
		return e
	case "UserEvent":
		if ch == "OutgoingSpoolFailed" {
			return "UserEvent(failed-exten)"
		}
	case "Newchannel", "DialEnd", "HangupRequest", "Cdr", "Hangup":
		switch {
		case strings.HasSuffix(ch, ";1"):
			return e + "(;1)"
		case strings.HasSuffix(ch, ";2"):
			return e + "(;2)"
		}
	}
	return ""
}

var dialFor = map[OutcomeKind]string{
	Answered: "Local/400@test", Busy: "Local/200@test", NoAnswer: "Local/300@test",
	NoSuchExtension: "Local/999@test", UnknownTech: "Foo/1",
}

// runOrdered originates one call with the given outcome on c and returns
// the labelled events of that call in arrival order: until want labels
// have arrived (or 5 s), then whatever comes in the next 100 ms.
func runOrdered(t *testing.T, c *client, id string, dial string, want int) []string {
	t.Helper()
	c.write("Action: Originate\r\nActionID: " + id + "\r\nChannel: " + dial + "\r\nContext: test\r\nExten: 400\r\nPriority: 1\r\nTimeout: 100\r\nAsync: true\r\nCallerID: \"Dialer\" <1234>\r\nChannelId: u1-" + id + "\r\nOtherChannelId: u2-" + id + "\r\nVariable: CALLID=" + id + "\r\n\r\n")
	var labels []string
	seen := map[string]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		wait := time.Until(deadline)
		if len(labels) >= want {
			wait = 100 * time.Millisecond
		}
		m, err := c.read(wait)
		if err != nil {
			return labels
		}
		if l := labelOf(m); l != "" && !seen[l] {
			seen[l] = true
			labels = append(labels, l)
		}
	}
}

// Every ordering observed in 50_originate_ordering_race_stats, asked for
// with Outcome.Order, is the order in which the fake sends those events.
func TestObservedOrderings(t *testing.T) {
	for _, kind := range []OutcomeKind{Busy, NoAnswer, NoSuchExtension, UnknownTech, Answered} {
		orders := Orders(kind)
		if len(orders) == 0 {
			t.Fatalf("%s: no observed orders loaded", kind)
		}
		for i, order := range orders {
			t.Run(fmt.Sprintf("%s/%d", kind, i), func(t *testing.T) {
				t.Parallel()
				srv := NewServer(Config{Outcome: func(Originate) Outcome {
					out := Outcome{Kind: kind, Order: order}
					if kind == Answered {
						out.Script = "answer-wait"
					}
					return out
				}})
				defer srv.Close()
				c := login(t, srv, "on")
				got := runOrdered(t, c, fmt.Sprintf("ord-%d", i), dialFor[kind], len(order))
				if !slices.Equal(got, []string(order)) {
					t.Errorf("order\n got %s\nwant %s", Order(got), order)
				}
			})
		}
	}
}

// RandomOrder with a seed draws observed orderings reproducibly.
func TestRandomOrderSeeded(t *testing.T) {
	draw := func(seed int64) []string {
		srv := NewServer(Config{RandomOrder: true, Seed: seed})
		defer srv.Close()
		c := login(t, srv, "on")
		var all []string
		for i := range 3 {
			all = append(all, Order(runOrdered(t, c, fmt.Sprintf("r%d", i), "Local/200@test", 10)).String())
		}
		return all
	}
	a, b := draw(7), draw(7)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different orders:\n%v\n%v", a, b)
	}
	observed := map[string]bool{}
	for _, o := range Orders(Busy) {
		observed[o.String()] = true
	}
	for _, o := range a {
		if !observed[o] {
			t.Errorf("order %q is not one observed for busy", o)
		}
	}
}

// A non-Local dial string is one channel: no ;2, no LocalBridge, and the
// far end's cause (17 for busy) on its Hangup.
func TestSingleChannelTech(t *testing.T) {
	srv := NewServer(Config{Outcome: func(Originate) Outcome { return Outcome{Kind: Busy} }})
	defer srv.Close()
	c := login(t, srv, "on")
	c.write("Action: Originate\r\nActionID: p1\r\nChannel: PJSIP/5551234@trunk\r\nContext: test\r\nExten: 100\r\nAsync: true\r\n\r\n")
	var hangups []string
	var resp msg
	for len(hangups) < 2 || resp.headers == nil {
		m, err := c.read(3 * time.Second)
		if err != nil {
			t.Fatalf("read: %v (hangups %v)", err, hangups)
		}
		ch := m.get("Channel") + m.get("DestChannel")
		if strings.Contains(ch, ";2") || m.get("Event") == "LocalBridge" {
			t.Errorf("Local-pair event for a PJSIP call: %v", m.headers)
		}
		switch m.get("Event") {
		case "Hangup":
			hangups = append(hangups, m.get("Channel")+" "+m.get("Cause"))
		case "OriginateResponse":
			resp = m
		}
	}
	if fmt.Sprint(hangups) != "[PJSIP/trunk-00000001 17 OutgoingSpoolFailed 16]" {
		t.Errorf("hangups %v", hangups)
	}
	if resp.get("Reason") != "5" || resp.get("Channel") != "PJSIP/5551234@trunk" {
		t.Errorf("OriginateResponse %v", resp.headers)
	}
}
