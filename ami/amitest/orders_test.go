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
// the labelled events of that call in arrival order, until its last
// Hangup/Cdr/UserEvent has arrived (quiet for 300 ms).
func runOrdered(t *testing.T, c *client, id string, dial string) []string {
	t.Helper()
	c.write("Action: Originate\r\nActionID: " + id + "\r\nChannel: " + dial + "\r\nContext: test\r\nExten: 400\r\nPriority: 1\r\nTimeout: 100\r\nAsync: true\r\nCallerID: \"Dialer\" <1234>\r\nChannelId: u1-" + id + "\r\nOtherChannelId: u2-" + id + "\r\nVariable: CALLID=" + id + "\r\n\r\n")
	var labels []string
	seen := map[string]bool{}
	for {
		m, err := c.read(300 * time.Millisecond)
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
				got := runOrdered(t, c, fmt.Sprintf("ord-%d", i), dialFor[kind])
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
			all = append(all, Order(runOrdered(t, c, fmt.Sprintf("r%d", i), "Local/200@test")).String())
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
