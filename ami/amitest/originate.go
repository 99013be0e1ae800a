package amitest

import (
	"slices"
	"strings"
	"time"
)

// Originate is what the fake read from one Originate action; Config.Outcome
// chooses the call's Outcome from it.
type Originate struct {
	Session        int
	ActionID       string
	Channel        string // the dial string as sent, e.g. Local/200@test
	Context        string
	Exten          string
	Priority       string
	Application    string
	Data           string
	Timeout        time.Duration // 0 when not sent (Asterisk's default is 30 s)
	Async          bool
	CallerID       string   // as sent, e.g. `"Dialer" <1234>`
	ChannelID      string   // becomes the Uniqueid of the first channel (;1)
	OtherChannelID string   // becomes the Uniqueid of ;2
	Variables      []string // every Variable header's value, in order (k=v[,k=v...])
}

// OutcomeKind is what happens to an originated call. The names are the keys
// of 50_originate_ordering_race_stats.summary.json where one exists.
type OutcomeKind int

const (
	// Answered: Reason 4, OriginateResponse Success; the call then stays up
	// for Outcome.Talk (or until a Hangup action when Outcome.Hold).
	Answered OutcomeKind = iota
	// Busy: Reason 5; DialEnd BUSY; cause 17 on ;2 and 0 on ;1 (11_*).
	Busy
	// NoAnswer: Reason 3 after the Timeout; DialBegin without DialEnd,
	// cause 19 on both legs (12_*).
	NoAnswer
	// Congestion: Reason 8; DialEnd CONGESTION; cause 34 on ;2, 0 on ;1 (23_*).
	Congestion
	// NoSuchExtension: the dialled Local extension does not exist: Reason 0,
	// two Local channels then Hangup cause 0, no DialBegin (13_*).
	NoSuchExtension
	// UnknownTech: e.g. Foo/1: Reason 0, no channel at all but the failed
	// extension's OutgoingSpoolFailed (14_*).
	UnknownTech
	// Rejected: Hangup(21) before answer: Reason 0, DialEnd NOANSWER,
	// cause 21 on both legs (24_*).
	Rejected
	// ExtensionMissing: the target Context/Exten does not exist: immediate
	// `Response: Error / Message: Extension does not exist.`, no call (18_*).
	ExtensionMissing
)

var kindNames = [...]string{"answer", "busy", "noanswer", "congestion", "nosuchexten", "badtech", "reject", "extenmissing"}

// String returns the kind's name as in the 50_* summary (answer, busy,
// noanswer, nosuchexten, badtech) or congestion, reject, extenmissing.
func (k OutcomeKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "OutcomeKind(?)"
}

// Reason is the OriginateResponse Reason code of the kind (0 for the kinds
// Asterisk does not distinguish, and for ExtensionMissing, which has none).
func (k OutcomeKind) Reason() int {
	switch k {
	case Answered:
		return 4
	case Busy:
		return 5
	case NoAnswer:
		return 3
	case Congestion:
		return 8
	}
	return 0
}

// Outcome scripts one originated call.
type Outcome struct {
	Kind OutcomeKind
	// Ring is the time from the action to the answer or the failure. For
	// NoAnswer the default is the Originate's Timeout (30 s when not sent).
	Ring time.Duration
	// Talk is, for Answered, how long the call stays up before the called
	// side hangs up (Hangup cause 16); default 0: at once after answer.
	Talk time.Duration
	// Hold keeps an answered call up until a Hangup action (or Redirect).
	Hold bool
	// Order, when set, is the order of the racing events (one of Orders(Kind),
	// or any permutation of its labels); nil: Config.RandomOrder decides,
	// else the order of the single-call capture of that kind.
	Order Order
	// Script names the captured call to play when a kind has several:
	// "" is the kind's default (answered: 10_*, Local/100 playing
	// tt-monkeys; with Application: 20_*); "answer-wait" is 17_*
	// (Local/400: Wait, a static member of queue sales, so QueueMemberStatus
	// events too); "c2c-busy" is 67_*'s click-to-call: the originated agent
	// leg answers (OriginateResponse Success, Reason 4), then dials the
	// customer Local/<Exten>@customer, who is busy: DialEnd BUSY, Hangup 17
	// on the customer ;2, UserEvent C2CResult, every leg's Linkedid the
	// ChannelId; "c2c-answer" is the same where the customer (Local/<Exten>@test)
	// answers. Scripts lists them.
	Script string
}

// Scripts returns the names of the captured calls Outcome.Script can name.
func Scripts() []string {
	loadOnce.Do(loadScenarios)
	var out []string
	for n := range scenarios {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Order is a sequence of the labels used in 50_*.summary.json:
// "Newchannel(;1)", "Newchannel(;2)", "DialEnd(;1)", "HangupRequest(;2)",
// "Cdr(;1)", "Cdr(;2)", "Hangup(;1)", "Hangup(;2)", "OriginateResponse",
// "UserEvent(failed-exten)". The fake emits those events in that order;
// every other event of the call keeps its captured place next to the
// labelled event it follows.
type Order []string

// String joins the labels as the summary does ("A < B < C").
func (o Order) String() string { return strings.Join(o, " < ") }

// ParseOrder parses the summary's "A < B < C" form.
func ParseOrder(s string) Order {
	var o Order
	for _, p := range strings.Split(s, "<") {
		if p = strings.TrimSpace(p); p != "" {
			o = append(o, p)
		}
	}
	return o
}

// Orders returns every ordering observed for k in 50_*.summary.json, most
// frequent first (nil for the kinds that summary does not cover).
func Orders(k OutcomeKind) []Order {
	return observedOrders(k)
}

// DefaultOutcome is the captures' dialplan (config/extensions.conf, context
// test): a Channel of Local/100, Local/400, Local/5xx... answers; Local/200
// is busy; Local/300 does not answer; Local/250 is congested; Local/260
// rejects; other Local/ extensions do not exist; a technology other than
// Local, SIP, PJSIP, IAX2, DAHDI is unknown; a target Exten of 999 is missing.
func DefaultOutcome(o Originate) Outcome {
	if o.Application == "" && o.Exten == "999" {
		return Outcome{Kind: ExtensionMissing}
	}
	switch {
	case o.Context == "c2c" && o.Exten == "5559999":
		// click-to-call: the agent answers, the customer is busy (67_*)
		return Outcome{Kind: Answered, Script: "c2c-busy"}
	case o.Context == "c2c-test":
		// click-to-call: the agent answers, then the customer (67_*)
		return Outcome{Kind: Answered, Script: "c2c-answer"}
	}
	tech, rest, _ := strings.Cut(o.Channel, "/")
	switch strings.ToUpper(tech) {
	case "LOCAL":
	case "SIP", "PJSIP", "IAX2", "DAHDI":
		return Outcome{Kind: Answered}
	default:
		return Outcome{Kind: UnknownTech}
	}
	exten, _, _ := strings.Cut(rest, "@")
	switch exten {
	case "200":
		return Outcome{Kind: Busy}
	case "300":
		return Outcome{Kind: NoAnswer}
	case "250":
		return Outcome{Kind: Congestion}
	case "260":
		return Outcome{Kind: Rejected}
	case "999":
		return Outcome{Kind: NoSuchExtension}
	}
	if exten == "400" && o.Application == "" {
		return Outcome{Kind: Answered, Script: "answer-wait"}
	}
	return Outcome{Kind: Answered}
}
