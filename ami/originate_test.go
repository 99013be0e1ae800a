package ami

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// timed is a captured S->C message with its capture time.
type timed struct {
	at time.Time
	m  *Message
}

var epoch = time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)

// sessionEvents parses a session's S->C bytes (after rewrite) and pairs
// each message with its capture time from the .jsonl.
func sessionEvents(t *testing.T, session string, rewrite func(string) string) []timed {
	t.Helper()
	raw := string(readTestdata(t, session+".s2c.raw"))
	if rewrite != nil {
		raw = rewrite(raw)
	}
	r := NewReader(strings.NewReader(raw), 0)
	if _, err := r.ReadBanner(); err != nil {
		t.Fatal(err)
	}
	msgs, err := readMessages(r)
	if err != nil {
		t.Fatal(err)
	}
	var times []float64
	sc := bufio.NewScanner(bytes.NewReader(readTestdata(t, session+".jsonl")))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var cm capturedMessage
		if err := json.Unmarshal(sc.Bytes(), &cm); err != nil {
			t.Fatal(err)
		}
		if cm.Dir == "S->C" && cm.Headers[0][0] != "__BANNER__" && cm.Headers[0][0] != "__EOF__" {
			times = append(times, cm.T)
		}
	}
	if len(times) != len(msgs) {
		t.Fatalf("%s: %d messages, %d times", session, len(msgs), len(times))
	}
	out := make([]timed, len(msgs))
	for i, m := range msgs {
		out[i] = timed{epoch.Add(time.Duration(times[i] * float64(time.Second))), m}
	}
	return out
}

// sessionOriginates returns the Originate actions a session sent.
func sessionOriginates(t *testing.T, session string) []*Message {
	t.Helper()
	msgs, err := readMessages(NewReader(bytes.NewReader(readTestdata(t, session+".c2s.raw")), 0))
	if err != nil {
		t.Fatal(err)
	}
	var out []*Message
	for _, m := range msgs {
		if strings.EqualFold(m.Get("Action"), "Originate") {
			out = append(out, m)
		}
	}
	return out
}

// asChannelID rewrites a session that did not use ChannelId as if it had:
// its ;1 and ;2 Uniqueids become id and id-2, and a failed
// OriginateResponse reports id instead of <unknown> (README: "Uniqueid is
// your ChannelId even on failure, even when no channel ever existed").
func asChannelID(id string) func(string) string {
	return func(raw string) string {
		newch := regexp.MustCompile(`Event: Newchannel\r\n(?:[^\r\n]+\r\n)*?Channel: Local/[^\r\n]*;([12])\r\n(?:[^\r\n]+\r\n)*?Uniqueid: ([^\r\n]+)\r\n`)
		for _, sm := range newch.FindAllStringSubmatch(raw, 2) {
			to := id
			if sm[1] == "2" {
				to = id + "-2"
			}
			raw = regexp.MustCompile(regexp.QuoteMeta(sm[2])+`([^0-9]|$)`).ReplaceAllString(raw, to+"${1}")
		}
		return strings.ReplaceAll(raw, "Uniqueid: <unknown>", "Uniqueid: "+id)
	}
}

func placeFromCapture(t *testing.T, tr *Tracker, id string, action *Message, now time.Time) {
	t.Helper()
	o := Originate{
		Channel: action.Get("Channel"), Context: action.Get("Context"), Exten: action.Get("Exten"),
		Application: action.Get("Application"), Data: action.Get("Data"), Timeout: 30 * time.Second,
		ChannelID: action.Get("ChannelId"), OtherChannelID: action.Get("OtherChannelId"),
	}
	if o.ChannelID == "" {
		o.ChannelID, o.OtherChannelID = id, id+"-2"
	}
	if _, err := tr.Place(id, o, now); err != nil {
		t.Fatal(err)
	}
	if _, done := tr.Sent(id, nil, now); done {
		t.Fatal("a queued Originate ended the call")
	}
}

// feed runs events through the tracker and returns every outcome.
func feed(tr *Tracker, evs []timed) []Outcome {
	var outs []Outcome
	for _, e := range evs {
		if o, ok := tr.Feed(e.m, e.at); ok {
			outs = append(outs, o)
		}
	}
	return outs
}

func TestTrackerCapturedSessions(t *testing.T) {
	cases := []struct {
		session     string
		disposition Disposition
		reason      int
		cause       int
	}{
		{"10_originate_local100_answer", Answered, 4, 16},
		{"11_originate_local200_busy", Busy, 5, 17},
		{"12_originate_local300_noanswer_t5000", NoAnswer, 3, 19},
		{"13_originate_local999_nosuchexten", InvalidDestination, 0, 0},
		{"14_originate_foo_badtech", InvalidDestination, 0, -1},
		{"15_originate_local400_eventmask_call_agent", Answered, 4, 16},
		{"17_originate_local400_channelid", Answered, 4, 16},
		{"20_originate_local400_app_wait", Answered, 4, 0}, // Wait(1) ends with cause 0 on both legs
		{"22_originate_local400_with_manager_channelvars", Answered, 4, 16},
		{"23_originate_local250_congestion", Congestion, 8, 34},
		{"24_originate_local260_reject_before_answer", Rejected, 0, 21},
	}
	for _, tc := range cases {
		t.Run(tc.session, func(t *testing.T) {
			orig := sessionOriginates(t, tc.session)
			if len(orig) != 1 {
				t.Fatalf("%d originates", len(orig))
			}
			id := "call-1"
			var rw func(string) string
			if orig[0].Get("ChannelId") == "" {
				rw = asChannelID(id)
			} else {
				id = orig[0].Get("ChannelId")
			}
			evs := sessionEvents(t, tc.session, rw)
			tr := NewTracker()
			placeFromCapture(t, tr, id, orig[0], evs[0].at)
			outs := feed(tr, evs)
			if len(outs) != 1 {
				t.Fatalf("%d outcomes, want 1: %+v", len(outs), outs)
			}
			o := outs[0]
			if o.Disposition != tc.disposition || o.Reason != tc.reason || o.Cause != tc.cause {
				t.Errorf("outcome %s reason %d cause %d, want %s %d %d", o.Disposition, o.Reason, o.Cause, tc.disposition, tc.reason, tc.cause)
			}
			if tc.disposition == Answered {
				if o.Answered.IsZero() || o.Talk <= 0 || !o.Ended.After(o.Answered) {
					t.Errorf("answered %v talk %v ended %v", o.Answered, o.Talk, o.Ended)
				}
			} else if !o.Answered.IsZero() || o.Talk != 0 {
				t.Errorf("failed call with answer time %v talk %v", o.Answered, o.Talk)
			}
			if tr.Len() != 0 {
				t.Errorf("%d calls left", tr.Len())
			}
		})
	}
}

// 18: the missing target extension is refused at once.
func TestTrackerImmediateError(t *testing.T) {
	tr := NewTracker()
	o, err := tr.Place("c18", Originate{Channel: "Local/400@test", Context: "test", Exten: "999"}, epoch)
	if err != nil || !o.Async || o.ChannelID != "c18" || o.OtherChannelID != "c18-2" {
		t.Fatalf("Place: %+v %v", o, err)
	}
	if v := o.Variables[len(o.Variables)-1]; v != [2]string{DefaultVariable, "c18"} {
		t.Errorf("correlation variable %v", v)
	}
	out, done := tr.Sent("c18", &ResponseError{Action: "Originate", Response: "Error", Message: "Extension does not exist."}, epoch)
	if !done || out.Disposition != InvalidDestination || tr.Len() != 0 {
		t.Errorf("outcome %+v %v", out, done)
	}
}

// raceCalls places every Originate of session 50 and returns the tracker,
// the events and the kind of each call id ("busy", ...).
func raceCalls(t *testing.T) (*Tracker, []timed, map[string]string) {
	t.Helper()
	evs := sessionEvents(t, "50_originate_ordering_race_stats", nil)
	tr := NewTracker()
	kinds := map[string]string{}
	for _, a := range sessionOriginates(t, "50_originate_ordering_race_stats") {
		id := a.Get("ChannelId")
		kinds[id] = strings.Split(a.ActionID(), "-")[1]
		placeFromCapture(t, tr, id, a, evs[0].at)
	}
	if len(kinds) != 50 {
		t.Fatalf("%d originates in 50", len(kinds))
	}
	return tr, evs, kinds
}

var raceWant = map[string]struct {
	d      Disposition
	reason int
}{
	"busy":        {Busy, 5},
	"noanswer":    {NoAnswer, 3},
	"nosuchexten": {InvalidDestination, 0},
	"badtech":     {InvalidDestination, 0},
	"answer":      {Answered, 4},
}

// Session 50 as it came: 50 calls, every captured ordering among them.
func TestTrackerRaceSession(t *testing.T) {
	tr, evs, kinds := raceCalls(t)
	outs := feed(tr, evs)
	if len(outs) != 50 || tr.Len() != 0 {
		t.Fatalf("%d outcomes, %d left", len(outs), tr.Len())
	}
	for _, o := range outs {
		w := raceWant[kinds[o.ID]]
		if o.Disposition != w.d || o.Reason != w.reason {
			t.Errorf("%s (%s): %s reason %d, want %s %d", o.ID, kinds[o.ID], o.Disposition, o.Reason, w.d, w.reason)
		}
	}
}

// Every ordering listed in 50_*.summary.json, replayed on one call of its
// kind: the racing events in that order, the others where they came.
func TestTrackerEveryCapturedOrdering(t *testing.T) {
	var summary struct {
		Orders map[string]map[string]int `json:"orders"`
	}
	if err := json.Unmarshal(readTestdata(t, "50_originate_ordering_race_stats.summary.json"), &summary); err != nil {
		t.Fatal(err)
	}
	_, evs, kinds := raceCalls(t)
	byKind := map[string]string{} // one call id per kind
	for id, k := range kinds {
		if byKind[k] == "" || id < byKind[k] {
			byKind[k] = id
		}
	}
	n := 0
	for kind, orders := range summary.Orders {
		id := byKind[kind]
		mine := callEvents(evs, id)
		var orderList []string
		for o := range orders {
			orderList = append(orderList, o)
		}
		sort.Strings(orderList)
		for _, order := range orderList {
			seq, err := reorder(mine, id, strings.Split(order, " < "))
			if err != nil {
				t.Fatalf("%s: %s: %v", kind, order, err)
			}
			tr := NewTracker()
			placeFromCapture(t, tr, id, originateOf(t, id), seq[0].at)
			outs := feed(tr, seq)
			w := raceWant[kind]
			if len(outs) != 1 || outs[0].Disposition != w.d || outs[0].Reason != w.reason {
				t.Errorf("%s order %s: outcomes %+v, want one %s", kind, order, outs, w.d)
			}
			n++
		}
	}
	if n < 30 {
		t.Errorf("only %d orderings checked", n)
	}
}

func originateOf(t *testing.T, id string) *Message {
	for _, a := range sessionOriginates(t, "50_originate_ordering_race_stats") {
		if a.Get("ChannelId") == id {
			return a
		}
	}
	t.Fatalf("no originate %s", id)
	return nil
}

// callEvents returns the events of call id (its two channels, its
// OriginateResponse and its failed-extension UserEvent), in capture order.
func callEvents(evs []timed, id string) []timed {
	other := "u2-" + strings.TrimPrefix(id, "u1-")
	callid := strings.TrimPrefix(id, "u1-")
	var out []timed
	for _, e := range evs {
		m := e.m
		switch {
		case m.Get("Uniqueid") == id || m.Get("Uniqueid") == other || m.Get("DestUniqueid") == id:
		case m.Name() == "UserEvent" && strings.Contains(string(m.Raw()), callid):
		default:
			continue
		}
		out = append(out, e)
	}
	return out
}

// token names an event of the summary: "Hangup(;2)", "OriginateResponse",
// "UserEvent(failed-exten)".
func tokenOf(m *Message, id string) string {
	leg := func(uid string) string {
		if uid == id {
			return "(;1)"
		}
		return "(;2)"
	}
	switch m.Name() {
	case "OriginateResponse":
		return "OriginateResponse"
	case "UserEvent":
		return "UserEvent(failed-exten)"
	case "DialEnd":
		return "DialEnd" + leg(m.Get("DestUniqueid"))
	case "Newchannel", "HangupRequest", "Cdr", "Hangup":
		return m.Name() + leg(m.Get("Uniqueid"))
	}
	return ""
}

// reorder puts the racing events (those the summary names) in the given
// order; every other event keeps its place right after its predecessor
// in the capture, and the times are reassigned in the new order.
func reorder(evs []timed, id string, order []string) ([]timed, error) {
	byToken := map[string]timed{}
	restAfter := map[string][]timed{}
	last := ""
	for _, e := range evs {
		tok := tokenOf(e.m, id)
		if tok != "" {
			if _, dup := byToken[tok]; dup {
				return nil, fmt.Errorf("two %s", tok)
			}
			byToken[tok] = e
			last = tok
			continue
		}
		restAfter[last] = append(restAfter[last], e)
	}
	var seq []timed
	seq = append(seq, restAfter[""]...)
	for _, tok := range order {
		e, ok := byToken[tok]
		if !ok {
			return nil, fmt.Errorf("no %s in the capture", tok)
		}
		seq = append(seq, e)
		seq = append(seq, restAfter[tok]...)
		delete(byToken, tok)
	}
	if len(byToken) != 0 {
		return nil, fmt.Errorf("events the ordering does not name: %v", byToken)
	}
	if len(seq) != len(evs) {
		return nil, errors.New("lost events")
	}
	base := seq[0].at
	for i := range seq {
		seq[i].at = base.Add(time.Duration(i) * time.Millisecond)
	}
	return seq, nil
}

func TestTrackerTimeoutAndDrop(t *testing.T) {
	tr := NewTracker()
	_, _ = tr.Place("a", Originate{Channel: "Local/1@t", Context: "t", Exten: "1", Timeout: time.Second}, epoch)
	_, _ = tr.Place("b", Originate{Channel: "Local/2@t", Context: "t", Exten: "1"}, epoch)
	_, _ = tr.Place("c", Originate{Channel: "Local/3@t", Context: "t", Exten: "1"}, epoch)
	_, _ = tr.Place("d", Originate{Channel: "Local/4@t", Context: "t", Exten: "1"}, epoch)
	for _, id := range []string{"a", "b", "c", "d"} {
		tr.Sent(id, nil, epoch)
	}
	if outs := tr.Tick(epoch.Add(10 * time.Second)); len(outs) != 0 {
		t.Fatalf("early timeout: %+v", outs)
	}
	outs := tr.Tick(epoch.Add(11 * time.Second))
	if len(outs) != 1 || outs[0].ID != "a" || outs[0].Disposition != Timeout {
		t.Fatalf("timeout: %+v", outs)
	}
	// b answers, c is ringing, d never got a channel; then the connection drops.
	ev := func(s string) *Message { return parseAll(t, s)[0] }
	at := epoch.Add(12 * time.Second)
	tr.Feed(ev("Event: Newchannel\r\nUniqueid: b\r\n\r\n"), at)
	tr.Feed(ev("Event: Newchannel\r\nUniqueid: b-2\r\n\r\n"), at)
	tr.Feed(ev("Event: OriginateResponse\r\nResponse: Success\r\nReason: 4\r\nUniqueid: b\r\n\r\n"), at)
	tr.Feed(ev("Event: Newchannel\r\nUniqueid: c\r\n\r\n"), at)
	tr.Disconnected()
	if outs := tr.Tick(epoch.Add(time.Hour)); len(outs) != 0 {
		t.Fatalf("lost calls timed out before Resync: %+v", outs)
	}
	// After the reconnect only c is up: b ends answered (incomplete), d unknown.
	outs = tr.Resync([]*Message{ev("Event: CoreShowChannel\r\nUniqueid: c\r\n\r\n")}, epoch.Add(time.Hour))
	got := map[string]Outcome{}
	for _, o := range outs {
		got[o.ID] = o
	}
	if len(outs) != 2 || got["b"].Disposition != Answered || !got["b"].Incomplete || got["d"].Disposition != Unknown {
		t.Fatalf("resync: %+v", outs)
	}
	if !tr.Tracked("c") {
		t.Fatal("c stopped being tracked although its channel is up")
	}
	// c resumes: its OriginateResponse and hangups end it normally.
	tr.Feed(ev("Event: OriginateResponse\r\nResponse: Failure\r\nReason: 3\r\nUniqueid: c\r\n\r\n"), at)
	o, ok := tr.Feed(ev("Event: Hangup\r\nUniqueid: c\r\nCause: 19\r\n\r\n"), at)
	if !ok || o.Disposition != NoAnswer || o.Cause != 19 || tr.Len() != 0 {
		t.Fatalf("resumed call: %+v %v, %d left", o, ok, tr.Len())
	}
}

func TestTrackerRefusesBadIDs(t *testing.T) {
	tr := NewTracker()
	for _, id := range []string{"", "a,b", "a\r\nb", strings.Repeat("x", 65), "a b"} {
		if _, err := tr.Place(id, Originate{Channel: "Local/1@t"}, epoch); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%q: %v", id, err)
		}
	}
	if _, err := tr.Place("ok", Originate{Channel: "Local/1@t"}, epoch); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Place("ok", Originate{Channel: "Local/1@t"}, epoch); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("duplicate id: %v", err)
	}
}

func TestTrackerMaxDuration(t *testing.T) {
	tr := &Tracker{MaxDuration: time.Minute}
	_, _ = tr.Place("m", Originate{Channel: "Local/1@t", Context: "t", Exten: "1"}, epoch)
	tr.Sent("m", nil, epoch)
	ev := func(s string) *Message { return parseAll(t, s)[0] }
	tr.Feed(ev("Event: Newchannel\r\nUniqueid: m\r\n\r\n"), epoch)
	tr.Feed(ev("Event: OriginateResponse\r\nResponse: Success\r\nReason: 4\r\nUniqueid: m\r\n\r\n"), epoch.Add(time.Second))
	if outs := tr.Tick(epoch.Add(50 * time.Second)); len(outs) != 0 {
		t.Fatalf("ended early: %+v", outs)
	}
	outs := tr.Tick(epoch.Add(61 * time.Second))
	if len(outs) != 1 || outs[0].Disposition != Answered || !outs[0].Incomplete || outs[0].Talk != time.Minute {
		t.Fatalf("outcomes %+v", outs)
	}
}

// The owner may take the channel list before feeding the events queued
// since the reconnect: a Hangup among them still ends the call.
func TestTrackerHangupNewerThanChannelList(t *testing.T) {
	tr := NewTracker()
	_, _ = tr.Place("h", Originate{Channel: "Local/1@t", Context: "t", Exten: "1"}, epoch)
	tr.Sent("h", nil, epoch)
	ev := func(s string) *Message { return parseAll(t, s)[0] }
	tr.Feed(ev("Event: Newchannel\r\nUniqueid: h\r\n\r\n"), epoch)
	tr.Feed(ev("Event: Newchannel\r\nUniqueid: h-2\r\n\r\n"), epoch)
	tr.Feed(ev("Event: OriginateResponse\r\nResponse: Success\r\nReason: 4\r\nUniqueid: h\r\n\r\n"), epoch)
	tr.Disconnected()
	list := []*Message{ev("Event: CoreShowChannel\r\nUniqueid: h\r\nChannelState: 6\r\n\r\n"), ev("Event: CoreShowChannel\r\nUniqueid: h-2\r\nChannelState: 6\r\n\r\n")}
	at := epoch.Add(time.Minute)
	for _, s := range []string{"Event: Hangup\r\nUniqueid: h-2\r\nCause: 16\r\n\r\n", "Event: Hangup\r\nUniqueid: h\r\nCause: 16\r\n\r\n"} {
		if o, done := tr.Feed(ev(s), at); done {
			t.Fatalf("ended before Resync: %+v", o)
		}
	}
	outs := tr.Resync(list, at)
	if len(outs) != 1 || outs[0].Disposition != Answered || outs[0].Cause != 16 || tr.Len() != 0 {
		t.Fatalf("outcomes %+v, %d left", outs, tr.Len())
	}
}

// The events may beat the Originate reply to the owner (they travel on the
// subscription, the reply on the caller's goroutine): the call still ends
// once, and the late Sent changes nothing.
func TestTrackerEventsBeforeSent(t *testing.T) {
	tr := NewTracker()
	_, _ = tr.Place("e", Originate{Channel: "Foo/1", Context: "t", Exten: "1"}, epoch)
	o, done := tr.Feed(parseAll(t, "Event: OriginateResponse\r\nResponse: Failure\r\nReason: 0\r\nUniqueid: e\r\n\r\n")[0], epoch)
	if !done || o.Disposition != InvalidDestination {
		t.Fatalf("outcome %+v %v", o, done)
	}
	if o, done := tr.Sent("e", nil, epoch); done || tr.Len() != 0 {
		t.Errorf("late Sent: %+v %v, %d left", o, done, tr.Len())
	}
	if outs := tr.Tick(epoch.Add(time.Hour)); len(outs) != 0 {
		t.Errorf("a second outcome: %+v", outs)
	}
}
