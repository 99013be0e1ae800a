// Package flows loads, validates and compiles the YAML call flows that ops
// write (flows/*.yaml) into an immutable *Flow that the ivr runtime executes.
//
// A flow is compiled once per version: the node table, the parsed templates and
// the outcome edges (Edges) are built here and shared, read-only, by every
// call that started on that version; the runtime (package ivr) builds its
// state machine from the edges. Version is a short
// hash of the file's bytes; Registry keeps the current versions and swaps
// them only when every file of the directory validates.
//
// # Flow file
//
//	name: sales                 # required; letters, digits, _ and -
//	description: free text      # optional
//	start: welcome              # required; id of the first node
//	fallback: fifo_sales XML new_sales  # optional; where ivrd hands a call
//	                            # still in the flow at its drain bound
//	prefetch:                   # optional; lookups started at call start
//	  crm:
//	    kind: crm               # the only kind so far
//	    key: "${caller_id}"     # template over call variables only
//	    default: "00000000"     # key used when the template renders empty
//	    timeout: 1500ms         # required bound (Go duration)
//	    fields: [extension, name, account]  # default for crm; ${crm.extension}
//	nodes:                      # required; node id -> node, in call order
//	  welcome:
//	    kind: play
//	    log: Welcome            # optional call-log label (default: the id)
//	    prompt: new_sales/1000.wav
//	    next: office_hours
//
// Node ids are identifiers ([A-Za-z_][A-Za-z0-9_]*), not "end", "hungup" or
// a plain outcome name (done, failed, ...). Every field not listed for a kind
// is an error: typos do not pass silently. Durations are Go durations ("5s",
// "1500ms"). Targets name nodes, the node itself included (a menu may replay
// itself), but a loop must wait for the caller somewhere.
//
// # Node kinds
//
//	play      prompt: file | prompts: [files]; next
//	menu      prompt, invalid (optional), min (1), max (min), tries (3),
//	          timeout (5s), terminators ("#", or "none"), regex (default
//	          derived from the choices), var (default: the node id),
//	          choices: {"1": node, "2,3,4": node} or [{digits: [2,3], next: node}],
//	          on_fail (no valid input after all tries)
//	collect   as menu without choices, var required, regex default \d+;
//	          next (digits stored in var), on_fail
//	time      zone (IANA name, required), holidays: [{dates, from, to, next,
//	          name}], rules: [{name, days, dates, from, to, next}], default,
//	          override: {key (fsivr:override:<flow>), timeout (250ms),
//	          actions: subset of [transfer, playback, hangup], goto: [nodes]}
//	bridge    dial (template, e.g. user/${cc_extension}), prompt (optional,
//	          played first), ringback (FreeSWITCH value, verbatim, e.g.
//	          ${us-ring}), continue_on_fail (true), hangup_after_bridge (true),
//	          next (required only when hangup_after_bridge is false), on_fail
//	          (required when continue_on_fail is true)
//	transfer  dest (template), dialplan (XML), context (default); ends the flow
//	set       vars: {name: template}, channel (false: also set on the
//	          FreeSWITCH channel); next
//	hangup    cause (NORMAL_CLEARING); ends the flow
//	wait_for  prefetch, timeout, require: [fields]; ready, missing
//
// Time rules: days are mon..sun, ranges (mon-fri, fri-mon) or all; dates are
// YYYY-MM-DD or MM-DD (every year); a rule with dates ignores days. The window
// is from (00:00) to (24:00), half open [from, to), in the node's zone, and
// may not cross midnight. Holidays are checked first, then rules in order,
// else default. The override is read from Redis before the rules.
//
// # Templates and variables
//
// ${name} in prompts, dial, dest, set values and prefetch keys is rendered by
// the runtime. Known names: caller_id, caller_name, destination, uuid, flow;
// <prefetch>.<field>; bridge.disposition; digits (the last menu or collect
// input); and every var written by a menu,
// collect or set node. A prompt with variables is checked for its directory
// only; other prompts must exist under Options.SoundsDir.
//
// # Validation
//
// All problems of a file are reported at once as an *InvalidError, each as
// `file:line: node "id": message`: YAML syntax, unknown or missing fields,
// unknown kinds, unknown targets, unreachable nodes, loops that never wait
// for the caller, unknown variables, missing prompts, bad regexes, bad time
// windows and zones, menu choices the menu's digits, terminators or regex
// can never produce, bad override actions or goto nodes, and terminal nodes
// with next.
//
// # Compiled outcomes
//
// Next maps (and Edges) use the outcome names of this package: OutcomeDone,
// OutcomeFailed, ChoiceOutcome(d), RuleOutcome(name), OutcomeDefault,
// OutcomeOverride (-> StateEnd) and GotoOutcome(node) for time nodes,
// OutcomeReady and OutcomeMissing for wait_for. transfer and hangup nodes
// (and a bridge with hangup_after_bridge and no next) go to StateEnd on
// OutcomeDone. Hangup is not an edge: the runtime leaves any state for its
// own hung-up state.
//
// # Source layout
//
// load.go reads files, compile.go turns YAML into nodes, check.go checks the
// graph, variables and prompts; each node kind has one file, kind_<kind>.go,
// with its type, its compiler and the helpers the runtime calls, and one
// line in the kinds table (flow.go).
package flows
