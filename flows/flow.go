package flows

import "time"

// Kind is the kind of a node. Each kind lives in one file, kind_<kind>.go:
// its node type, its compiler and the runtime helpers ivr calls; the table
// kinds below ties a kind to its compiler, and ivr has the matching table of
// runners (a test in each package checks that every kind has both).
type Kind string

// Node kinds.
const (
	KindPlay     Kind = "play"     // playback one or more prompts
	KindMenu     Kind = "menu"     // play_and_get_digits, choices -> targets
	KindCollect  Kind = "collect"  // play_and_get_digits into a variable
	KindTime     Kind = "time"     // route by time of day / date / ops override
	KindBridge   Kind = "bridge"   // bridge to a dial string, on-fail branch
	KindTransfer Kind = "transfer" // transfer dest dialplan context (leaves the flow)
	KindSet      Kind = "set"      // set session (and channel) variables
	KindHangup   Kind = "hangup"   // hang the call up
	KindWaitFor  Kind = "wait_for" // wait, bounded, for a prefetch result
)

// Kinds lists every node kind, in the order of the declarations.
func Kinds() []Kind {
	return []Kind{KindPlay, KindMenu, KindCollect, KindTime, KindBridge, KindTransfer, KindSet, KindHangup, KindWaitFor}
}

// shape is how graphs draw a kind.
type shape uint8

const (
	shapeStep     shape = iota // box: does one thing and goes on
	shapeDecision              // diamond: several outcomes by input or data
	shapeTerminal              // oval: ends the flow
)

// kindSpec is what the package knows about a kind: how to compile it, how to
// draw it, whether entering it waits for the caller, and its prompts.
type kindSpec struct {
	compile    func(c *compiler, nf *fields, n *Node)
	shape      shape
	takesInput bool                     // waits for the caller (breaks an input-less loop)
	prompts    func(n *Node) []Template // prompt templates, for Prompts
}

// kinds is the kind -> spec table. A kind missing here is an unknown kind.
var kinds = map[Kind]kindSpec{
	KindPlay:     {compile: (*compiler).play, shape: shapeStep, prompts: playPrompts},
	KindMenu:     {compile: (*compiler).menu, shape: shapeDecision, takesInput: true, prompts: menuPrompts},
	KindCollect:  {compile: (*compiler).menu, shape: shapeDecision, takesInput: true, prompts: menuPrompts},
	KindTime:     {compile: (*compiler).time, shape: shapeDecision},
	KindBridge:   {compile: (*compiler).bridge, shape: shapeStep, prompts: bridgePrompts},
	KindTransfer: {compile: (*compiler).transfer, shape: shapeTerminal},
	KindSet:      {compile: (*compiler).set, shape: shapeStep},
	KindHangup:   {compile: (*compiler).hangup, shape: shapeTerminal},
	KindWaitFor:  {compile: (*compiler).waitFor, shape: shapeDecision},
}

// StateEnd is the target of a terminal node (transfer, hangup, override
// action): the flow has nothing more to do but the runtime keeps reading
// events (fifo, hangup) until the channel is gone. It is not a node id.
const StateEnd = "end"

// StateHungUp is reserved for the runtime's state after hangup; it is not a
// node id either.
const StateHungUp = "hungup"

// Outcome names an edge leaving a node: what the node's completion (matched
// by Application-UUID), digits, prefetch result, timer or override decided.
type Outcome string

// Plain outcomes. Menu, time and override outcomes carry a value: see
// ChoiceOutcome, RuleOutcome and GotoOutcome.
const (
	OutcomeDone     Outcome = "done"     // play, set, collect (valid digits), bridge returned normally
	OutcomeFailed   Outcome = "failed"   // menu/collect: no valid input after all tries; bridge failed
	OutcomeReady    Outcome = "ready"    // wait_for: prefetch answered in time with the required fields
	OutcomeMissing  Outcome = "missing"  // wait_for: prefetch absent, failed, invalid or late
	OutcomeDefault  Outcome = "default"  // time: no rule matched
	OutcomeOverride Outcome = "override" // time: an ops override action ran (-> StateEnd)
)

// plainOutcomes may not be node ids (they would read ambiguously in graphs
// and logs, and looplab/fsm resolves bare callback names as events first).
var plainOutcomes = []Outcome{OutcomeDone, OutcomeFailed, OutcomeReady, OutcomeMissing, OutcomeDefault, OutcomeOverride, "hangup"}

// ChoiceOutcome names the outcome of a menu whose digits equal choice.
func ChoiceOutcome(choice string) Outcome { return Outcome("choice:" + choice) }

// RuleOutcome names the outcome of a time node whose rule name matched.
func RuleOutcome(rule string) Outcome { return Outcome("rule:" + rule) }

// GotoOutcome names the outcome of a time node whose ops override named a node.
func GotoOutcome(node string) Outcome { return Outcome("goto:" + node) }

// Flow is one compiled, validated version of a flow file. It is immutable
// once returned by the loader.
type Flow struct {
	Name        string // flow name (from the file, e.g. "sales")
	Description string // free text from the file
	// Fallback is where a call still in the flow is transferred when ivrd
	// must give it up (the drain bound): "<dest> <dialplan> <context>",
	// e.g. "fifo_sales XML new_sales"; empty = ivrd's drain_fallback.
	Fallback string
	Version  string // content hash of the source, short hex
	File     string // path it was loaded from
	Start    string // id of the first node
	Nodes    map[string]*Node
	Order    []string             // node ids in file order
	Prefetch map[string]*Prefetch // by name, e.g. "crm"
	// Warnings are findings that do not make the flow invalid (a prompt
	// built from data without a fallback), as file:line problems.
	Warnings []Problem

	nameLine int // line of the name field, for duplicate-name messages
}

// Node is one step of a flow. Exactly one of the kind-specific pointers is set.
type Node struct {
	ID   string
	Kind Kind
	File string // source file and line, for error messages and logs
	Line int
	// Log is the label written to the call log when the node is entered
	// (e.g. "MainMenu"); empty means the node id.
	Log string
	// Next maps an outcome (OutcomeDone, ChoiceOutcome("1"), ...) to the id
	// of the next node (the node itself included) or StateEnd.
	Next map[Outcome]string
	// Outcomes lists the keys of Next in file order (for graphs, simulate
	// and a deterministic Edges).
	Outcomes []Outcome
	// FallbackPrompt (play, menu, collect, bridge: fallback_prompt) is
	// played instead of a prompt built from data (new_sales/8${ext}.wav)
	// whose file is absent from the sounds; empty = none.
	FallbackPrompt Template

	Play     *Play
	Menu     *Menu // KindMenu and KindCollect
	Time     *Time
	Bridge   *Bridge
	Transfer *Transfer
	Set      []Assign
	Hangup   *Hangup
	WaitFor  *WaitFor
}

// Edge is one outcome edge of the flow graph: node From goes to To (a node
// id, possibly From itself, or StateEnd) on Outcome.
type Edge struct {
	From    string
	Outcome Outcome
	To      string
}

// Edges lists every outcome edge in file order: nodes in file order, each
// node's outcomes in the order they were written. The runtime builds its
// state machine from them; hangup is the runtime's business, not an edge.
func (f *Flow) Edges() []Edge {
	var out []Edge
	for _, id := range f.Order {
		n := f.Nodes[id]
		for _, o := range n.Outcomes {
			out = append(out, Edge{From: id, Outcome: o, To: n.Next[o]})
		}
	}
	return out
}

// PrefetchKindCRM is the kind of a CRM lookup prefetch (the only kind so far).
const PrefetchKindCRM = "crm"

// Prefetch is a lookup started at call start in its own goroutine (e.g. the
// CRM by caller id), whose fields are then available as ${<name>.<field>}.
type Prefetch struct {
	Name    string
	Kind    string   // PrefetchKindCRM
	Key     Template // e.g. "${caller_id}"
	Default string   // key used when Key renders empty (seed: 00000000)
	Timeout time.Duration
	// Fields the prefetch provides as ${<name>.<field>} (crm default:
	// extension, name, account).
	Fields []string
}
