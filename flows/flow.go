package flows

import (
	"time"

	"github.com/looplab/fsm"
)

// Kind is the kind of a node.
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

// StateEnd is the machine state after a terminal node (transfer, hangup,
// override action): the flow has nothing more to do but the session keeps
// reading events (fifo, hangup) until the channel is gone.
const StateEnd = "end"

// StateHungUp is the state the machine enters on EventHangup from any state.
const StateHungUp = "hungup"

// Outcome (FSM event) names. Every edge of the compiled machine is named by
// one of these, fired by the session goroutine when the node's completion
// (matched by Application-UUID), digits, prefetch result, timer or override
// arrives.
const (
	EventDone     = "done"     // play, set, collect (valid digits), bridge returned normally
	EventFailed   = "failed"   // menu/collect: no valid input after all tries; bridge failed
	EventReady    = "ready"    // wait_for: prefetch answered in time with the required fields
	EventMissing  = "missing"  // wait_for: prefetch absent, failed, invalid or late
	EventDefault  = "default"  // time: no rule matched
	EventOverride = "override" // time: an ops override action ran (-> StateEnd)
	EventHangup   = "hangup"   // channel hung up (any state -> StateHungUp)
)

// ChoiceEvent names the outcome of a menu whose digits equal choice.
func ChoiceEvent(choice string) string { return "choice:" + choice }

// RuleEvent names the outcome of a time node whose rule name matched.
func RuleEvent(rule string) string { return "rule:" + rule }

// GotoEvent names the outcome of a time node whose ops override named a node.
func GotoEvent(node string) string { return "goto:" + node }

// Flow is one compiled, validated version of a flow file. It is immutable
// once returned by the loader.
type Flow struct {
	Name        string // flow name (from the file, e.g. "sales")
	Description string // free text from the file
	Version     string // content hash of the source, short hex
	File        string // path it was loaded from
	Start       string // id of the first node
	Nodes       map[string]*Node
	Order       []string             // node ids in file order
	Prefetch    map[string]*Prefetch // by name, e.g. "crm"
	// Events is the looplab/fsm transition table for this version: one
	// EventDesc per (outcome, destination) listing every source node that
	// takes that outcome there, in file order, plus EventHangup from every
	// state (nodes and StateEnd) to StateHungUp.
	// States are node ids, StateEnd and StateHungUp.
	Events []fsm.EventDesc

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
	// Next maps an outcome (EventDone, ChoiceEvent("1"), ...) to the id of the
	// next node or StateEnd.
	Next map[string]string
	// Outcomes lists the keys of Next in file order (for graphs, simulate
	// and deterministic Events).
	Outcomes []string

	Play     *Play
	Menu     *Menu // KindMenu and KindCollect
	Time     *Time
	Bridge   *Bridge
	Transfer *Transfer
	Set      []Assign
	Hangup   *Hangup
	WaitFor  *WaitFor
}

// Play plays its prompts in order; outcome EventDone.
type Play struct {
	Prompts []Template
}

// Menu is play_and_get_digits: <min> <max> <tries> <timeout_ms> <terminators>
// <prompt> <invalid> <var> <regex>. FreeSWITCH itself replays the prompt on
// timeout/invalid input until Tries are used up and leaves the digits in
// variable_<Var>. A menu fires ChoiceEvent(digits) for a digit string that is
// a key of Choices-derived Next entries, else EventFailed. A collect fires
// EventDone (the digits are stored in the session variable Var) or EventFailed.
type Menu struct {
	Min, Max    int
	Tries       int
	Timeout     time.Duration
	Terminators string
	Prompt      Template
	Invalid     Template
	Var         string // channel/session variable that receives the digits
	Regex       string // FreeSWITCH (PCRE) regex the digits must match
	Choices     []string
}

// Time routes by the local time in Zone. The ops override (if any) is read
// first; then Holidays; then Rules in order; else EventDefault.
type Time struct {
	Zone     *time.Location
	Override *Override
	Rules    []TimeRule
}

// TimeRule matches when the date is one of Dates (if any) or the weekday is
// in Days, and the time of day is within [From, To).
type TimeRule struct {
	Name  string
	Days  [7]bool       // indexed by time.Weekday
	Dates []string      // "2026-12-25" or "12-25" (every year)
	From  time.Duration // since local midnight
	To    time.Duration
}

// Override is the ops override of a time node, read from Redis under Key
// (per flow) with a bound of Timeout; no answer in time means no override.
// The value is "goto <node>" (node must be in Nodes) or "<action> <args>"
// with action in Actions (e.g. transfer, playback, hangup). Anything else is
// refused and logged.
type Override struct {
	Key     string
	Timeout time.Duration
	Actions []string
	Nodes   []string
}

// Bridge plays Prompt (optional), sets ringback/continue_on_fail/
// hangup_after_bridge on the channel, then bridges to Dial. The failure
// disposition is available to later nodes as ${bridge.disposition}.
type Bridge struct {
	Prompt            *Template
	Dial              Template
	Ringback          string
	ContinueOnFail    bool
	HangupAfterBridge bool
}

// Transfer sends "transfer <dest> <dialplan> <context>"; -> StateEnd.
type Transfer struct {
	Dest     Template
	Dialplan string
	Context  string
}

// Assign sets a session variable; when Channel is true it is also set on the
// FreeSWITCH channel (sendmsg set).
type Assign struct {
	Var     string
	Value   Template
	Channel bool
}

// Hangup hangs up with Cause (default NORMAL_CLEARING); -> StateEnd.
type Hangup struct {
	Cause string
}

// WaitFor waits up to Timeout for the prefetch named Prefetch. EventReady if
// it answered with every field in Require non-empty, else EventMissing.
type WaitFor struct {
	Prefetch string
	Timeout  time.Duration
	Require  []string
}

// Prefetch is a lookup started at call start in its own goroutine (e.g. the
// CRM by caller id), whose fields are then available as ${<name>.<field>}.
type Prefetch struct {
	Name    string
	Kind    string   // "crm"
	Key     Template // e.g. "${caller_id}"
	Default string   // key used when Key renders empty (seed: 00000000)
	Timeout time.Duration
	// Fields the prefetch provides as ${<name>.<field>} (crm default:
	// extension, name, account).
	Fields []string
}
