package callcenter

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzModelApply feeds the model arbitrary events (a name and header
// lines, as AMI would deliver them) after the real ones of 62: it must
// never panic, and what it emits must encode as JSON the hub can send.
func FuzzModelApply(f *testing.F) {
	for _, e := range liveEvents(loadCapture(f, "62_queue_call_answered_recorded"))[:60] {
		var b strings.Builder
		for _, h := range e.headers {
			b.WriteString(h[0] + ": " + h[1] + "\n")
		}
		f.Add(b.String())
	}
	f.Add("Event: QueueMemberRemoved\nQueue: support\nInterface: Local/510@agent/n\n")
	f.Add("Event: DialEnd\nUniqueid: cc-1\nChannel: x\nDialStatus: BUSY\n")
	f.Fuzz(func(t *testing.T, text string) {
		var ev msg
		for _, line := range strings.Split(text, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok {
				ev.headers = append(ev.headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
			}
		}
		m := NewModel(ModelConfig{})
		m.TrackOriginate(Originate{ID: "cc-1", ChannelID: "cc-1", Owner: "t", Agent: "510", Number: "5551234"})
		for _, e := range []Fields{ev, ev, fields("Event", "QueueMemberRemoved", "Queue", ev.Get("Queue"), "Interface", ev.Get("Interface"))} {
			for _, d := range m.Apply(e) {
				b, err := d.MarshalJSON()
				if err != nil || !json.Valid(b) {
					t.Fatalf("bad JSON %q for %+v", b, d)
				}
				if d.HasAgentScope() && d.Agent == "" {
					t.Fatalf("agent-scoped event without an agent: %+v", d)
				}
			}
		}
		m.Rebuild([]Fields{ev})
		_ = m.View()
	})
}
