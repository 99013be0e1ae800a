package ivr

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsivr/fsivr/esl"
	"github.com/fsivr/fsivr/flows"
	"github.com/fsivr/fsivr/internal/cputime"
)

// benchChannel is a Channel whose Send returns at once with a fixed
// Event-UUID, so a benchmark measures the session, not a socket.
type benchChannel struct {
	data   *esl.Message
	appID  string
	notify chan struct{}
	done   chan struct{}
	sent   int
}

func newBenchChannel(b *testing.B) *benchChannel {
	b.Helper()
	// The fields a session reads from the connect reply, as FreeSWITCH names them.
	data := mustParse(b, "Content-Type: command/reply\nReply-Text: +OK\n"+
		"Unique-ID: 0b1c7a6e-4d2f-4a51-9d43-7f1e2c3b4a5d\n"+
		"Channel-Name: sofia/internal/5551001@127.0.0.1\n"+
		"Caller-Caller-ID-Number: 5551001\nCaller-Caller-ID-Name: Ada\n"+
		"Caller-Destination-Number: 5000\n\n")
	return &benchChannel{
		data:   data,
		appID:  "3b3d9f82-f980-448c-b372-5e2bdd450b34",
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

func (c *benchChannel) API(context.Context, string) (string, error) { return "+OK", nil }

func mustParse(b *testing.B, frame string) *esl.Message {
	b.Helper()
	m, _, err := esl.ParseMessage([]byte(frame))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func (c *benchChannel) UUID() string              { return "0b1c7a6e-4d2f-4a51-9d43-7f1e2c3b4a5d" }
func (c *benchChannel) ChannelData() *esl.Message { return c.data }
func (c *benchChannel) Notify() <-chan struct{}   { return c.notify }
func (c *benchChannel) Done() <-chan struct{}     { return c.done }
func (c *benchChannel) DrainSince(buf []*esl.Message) ([]*esl.Message, time.Time) {
	return buf, time.Time{}
}
func (c *benchChannel) Send(context.Context, string, string) (string, error) {
	c.sent++
	return c.appID, nil
}

func benchFlow(b *testing.B) *flows.Flow {
	b.Helper()
	f, err := flows.Load("../flows/sales.yaml", flows.Options{SkipPromptCheck: true})
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkNewSession is the cost of setting up one call: the session
// struct, its variables, its logger and its looplab/fsm machine built from
// the compiled flow's transition table.
func BenchmarkNewSession(b *testing.B) {
	f := benchFlow(b)
	eng := NewEngine(Config{})
	ch := newBenchChannel(b)
	b.ReportAllocs()
	for b.Loop() {
		s := NewSession(eng, ch, f)
		if s.state != f.Start {
			b.Fatal("machine not at the start node")
		}
	}
}

// BenchmarkCallSetup is NewSession plus begin: builtin variables, call_start
// log entry, the CRM prefetch goroutine (answering at once), the answer and
// the first node's sendmsg, i.e. what ivrd does between the connect reply
// and the first command of a call.
func BenchmarkCallSetup(b *testing.B) {
	f := benchFlow(b)
	eng := NewEngine(Config{Prefetchers: map[string]Prefetcher{"crm": PrefetchFunc(
		func(context.Context, string) (map[string]string, error) {
			return map[string]string{"extension": "1001"}, nil
		})}})
	ch := newBenchChannel(b)
	b.ReportAllocs()
	for b.Loop() {
		s := NewSession(eng, ch, f)
		ctx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		s.begin(ctx)
		<-s.results // the prefetch goroutine has finished
		cancel()
	}
	if ch.sent == 0 {
		b.Fatal("nothing sent")
	}
}

// BenchmarkMenuStep is one node step: the main menu's CHANNEL_EXECUTE_COMPLETE
// (digit 1, matched by Application-UUID) is handled, the machine fires
// choice:1, and the next node (transfer_hst) sends its sendmsg.
func BenchmarkMenuStep(b *testing.B) {
	f := benchFlow(b)
	eng := NewEngine(Config{})
	ch := newBenchChannel(b)
	ev := mustParse(b, benchComplete(ch.appID))
	s := NewSession(eng, ch, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.cancel = cancel
	b.ReportAllocs()
	for b.Loop() {
		s.state = "main_menu"
		s.phase, s.wait = phaseFlow, wait{kind: waitApp, appUUID: ch.appID, app: "play_and_get_digits"}
		s.path = s.path[:0]
		s.onEvent(ctx, ev)
		s.fireQueued(ctx)
		if s.state != flows.StateEnd && s.state != "transfer_hst" {
			b.Fatalf("in %s after the menu", s.state)
		}
	}
}

// benchComplete is a text/event-plain CHANNEL_EXECUTE_COMPLETE of the main
// menu's play_and_get_digits with the headers the session reads.
func benchComplete(appID string) string {
	body := "Event-Name: CHANNEL_EXECUTE_COMPLETE\n" +
		"Unique-ID: 0b1c7a6e-4d2f-4a51-9d43-7f1e2c3b4a5d\n" +
		"Application: play_and_get_digits\n" +
		"Application-Data: 1%201%203%205000%20%23%20new_sales/1001.wav%20new_sales/9004.wav%20menu_number%20%5B1-5%5D\n" +
		"Application-Response: _none_\n" +
		"Application-UUID: " + appID + "\n" +
		"variable_read_result: success\n" +
		"variable_menu_number: 1\n\n"
	return "Content-Length: " + strconv.Itoa(len(body)) + "\nContent-Type: text/event-plain\n\n" + body
}

// scriptedChannel plays FreeSWITCH for one "menu 1" sales call inside the
// session's own goroutine: each Send queues the events the switch would
// answer with (prebuilt, with one fixed Application-UUID), so a benchmark
// of a whole call measures the session alone, with no socket, no parser
// and no fake switch beside it.
type scriptedChannel struct {
	benchChannel
	replies map[string][]*esl.Message // by application
	mailbox []*esl.Message
}

func newScriptedChannel(b *testing.B) *scriptedChannel {
	c := &scriptedChannel{benchChannel: *newBenchChannel(b)}
	ev := func(name string, headers ...string) *esl.Message {
		body := "Event-Name: " + name + "\nUnique-ID: " + c.UUID() + "\n"
		for i := 0; i+1 < len(headers); i += 2 {
			body += headers[i] + ": " + headers[i+1] + "\n"
		}
		body += "\n"
		return mustParse(b, "Content-Length: "+strconv.Itoa(len(body))+"\nContent-Type: text/event-plain\n\n"+body)
	}
	app := func(name, uuid string, extra ...string) []*esl.Message {
		h := append([]string{"Application", name, "Application-UUID", uuid, "Caller-Destination-Number", "5000"}, extra...)
		return []*esl.Message{ev("CHANNEL_EXECUTE", h...), ev("CHANNEL_EXECUTE_COMPLETE", append(h, "Application-Response", "_none_")...)}
	}
	// answer's completion carries another UUID: the session does not wait
	// for it, and it must not be taken for the playback's.
	answer := append(app("answer", "d1f0c3a4-0000-4000-8000-000000000001"), ev("CHANNEL_ANSWER"))
	menu := app("play_and_get_digits", c.appID, "variable_read_result", "success", "variable_menu_number", "1")
	menu = append(menu[:1], ev("DTMF", "DTMF-Digit", "1", "DTMF-Source", "RTP"), menu[1])
	transfer := append(app("transfer", c.appID),
		ev("CHANNEL_HANGUP", "Hangup-Cause", "NORMAL_CLEARING"), ev("CHANNEL_HANGUP_COMPLETE", "Hangup-Cause", "NORMAL_CLEARING"))
	c.replies = map[string][]*esl.Message{
		"answer": answer, "playback": app("playback", c.appID), "play_and_get_digits": menu, "transfer": transfer,
	}
	return c
}

func (c *scriptedChannel) Send(_ context.Context, app, _ string) (string, error) {
	c.sent++
	c.mailbox = append(c.mailbox, c.replies[app]...)
	select {
	case c.notify <- struct{}{}:
	default:
	}
	if app == "answer" {
		return "d1f0c3a4-0000-4000-8000-000000000001", nil
	}
	return c.appID, nil
}

func (c *scriptedChannel) DrainSince(buf []*esl.Message) ([]*esl.Message, time.Time) {
	var since time.Time
	if len(c.mailbox) > 0 {
		since = time.Now() // as a real mailbox would have stamped them
	}
	buf = append(buf, c.mailbox...)
	c.mailbox = c.mailbox[:0]
	return buf, since
}

func (c *scriptedChannel) events() int {
	n := 0
	for _, r := range c.replies {
		n += len(r)
	}
	return n
}

// BenchmarkSessionWholeCall is one whole "menu 1" sales call in the session
// alone: NewSession, begin (CRM prefetch answering at once), welcome
// playback, time routing, the main menu, the transfer and the hangup, with
// 13 events in, Prometheus metrics, an Info-level JSON logger (ivrd's
// default) and the call-log entries built (then dropped). ns/event is the
// session's share of the per-event cost; BenchmarkWholeCall adds the
// socket, the parser and the fake switch.
func BenchmarkSessionWholeCall(b *testing.B) {
	f := benchFlow(b)
	eng := NewEngine(Config{
		Prefetchers: map[string]Prefetcher{"crm": PrefetchFunc(func(context.Context, string) (map[string]string, error) {
			return map[string]string{"extension": "1001"}, nil
		})},
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Metrics: NewMetrics(prometheus.NewRegistry()),
		Now:     func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, f.Nodes["office_hours"].Time.Zone) },
	})
	ch := newScriptedChannel(b)
	ctx := context.Background()
	b.ReportAllocs()
	var s *Session
	cpu0 := cputime.Process(b)
	for b.Loop() {
		ch.mailbox = ch.mailbox[:0]
		s = NewSession(eng, ch, f)
		s.Run(ctx)
	}
	if s.outcome != "transfer:fifo_hst" || s.phase != phaseDone {
		b.Fatalf("call ended with outcome %q in phase %s, want transfer:fifo_hst, done", s.outcome, s.phase)
	}
	if want := []string{"welcome", "office_hours", "main_menu", "transfer_hst"}; strings.Join(s.path, ">") != strings.Join(want, ">") {
		b.Fatalf("path %v, want %v", s.path, want)
	}
	cpu := cputime.Process(b) - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(ch.events()), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(ch.events()), "cpu-ns/event")
}
