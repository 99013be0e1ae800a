// Package amitest is a fake Asterisk Manager Interface server for tests, in
// the spirit of net/http/httptest and crm/crmtest: NewServer returns it
// started on 127.0.0.1:0, Addr says where, Close stops it.
//
// It is built from real Asterisk 22.10.1 captures (AMI 11.0.0, see
// ami/testdata and shared/fixtures/asterisk): the same banner, header names
// and order, reply texts, event classes and event sequences, including the
// captured races (OriginateResponse before or after Hangup and Cdr, Cdr
// before its Hangup) and quirks (bare LF in the Park reply, OriginateResponse
// broadcast to every session with the originator's ActionID, Login accepted
// before FullyBooted after a restart).
//
// It has its own reader for client actions and its own encoder and does not
// import package ami, so a framing bug there is not mirrored here.
//
// What it speaks:
//   - banner `Asterisk Call Manager/11.0.0`; Login (plain, and MD5 after
//     Challenge); a wrong secret is answered after 1 s with Response: Error
//     and the connection is closed; any other action before Login gets
//     `Permission denied`; Logoff answers Goodbye and closes.
//   - Events (on/off/class list) and EventMask, with the event classes of
//     the captures (VarSet and Newexten are dialplan, Cdr is cdr, queue and
//     agent events are agent, ...); Filter in its legacy regex form and as
//     MatchCriteria/advanced filters, with `name(A|B)` accepted but matching
//     nothing as Asterisk does. Responses and list items are never filtered.
//   - Ping, CoreStatus, Command (Output lines: core show version, core show
//     channels concise, core show hints; the captured error otherwise),
//     Getvar/Setvar (also DEVICE_STATE(...) for Custom devices), Redirect,
//     Hangup (by name, Uniqueid or /regex/), Park (the bare-LF reply,
//     ParkedCall), UserEvent; an unknown or missing action gets the
//     captured Error and a RequestBadFormat event.
//   - list actions (Status, CoreShowChannels, QueueStatus, QueueSummary,
//     ExtensionStateList, DeviceStateList) with `EventList: start`, items
//     carrying the ActionID, and the ...Complete event with ListItems.
//   - queue actions (QueueAdd, QueueRemove, QueuePause, QueuePenalty) with
//     the real messages and error variants, and their QueueMember* events.
//   - Originate, sync and async, whose outcome each test scripts per call
//     (Config.Outcome; DefaultOutcome maps the captures' dialplan): answered
//     (Reason 4), busy (5), no answer (3), congestion (8), no such extension,
//     unknown technology, rejected before answer (0) and a missing target
//     extension (an immediate Error), each with the captured event sequence,
//     Local ;1/;2 channels and their hangup causes, ChannelId/OtherChannelId
//     as Uniqueids and the `failed` extension's OutgoingSpoolFailed channel.
//     The order of the racing events is one of the orderings of
//     50_originate_ordering_race_stats.summary.json, chosen by the test
//     (Outcome.Order) or at random from a seed (Config.RandomOrder, Config.Seed).
//     The event streams are templates generated from the captures by
//     scenarios/gen.py; Outcome.Script picks another captured call of a kind.
//   - call files: StartSpool runs a fake pbx_spool on a directory.
//
// Tests observe it through Actions/ActionsNamed/WaitActions (every action
// received, with its headers in order and its arrival time),
// InFlightOriginates, PeakInFlightOriginates, Channels and Sessions; drive it
// with HangupChannel (the far end hangs up), SetDeviceState and Emit (any
// scripted event, to the sessions whose mask and filters let it through:
// the call-centre tests use it for queue and agent events); and break it
// with PauseReading, DropAll, SetRefusing, Restart and the slow-client cut
// (Config.WriteTimeout, 100 ms like Asterisk's writetimeout, once the
// socket buffers are full; Config.SlowClientLimit caps the fake's own queue).
//
// Known simplifications: a non-Local dial string (PJSIP/100@trunk) is
// played as the Local scenario's ;1 channel alone, named PJSIP/trunk-<seq>,
// with the far end's cause (;2's in the capture) on its Hangup; the dialplan run on the channels is the captured one of the chosen
// scenario whatever Context/Exten say (only the names and values are
// substituted); Redirect moves a channel without dialplan events; queue
// calls are driven by the test, not by app_queue: JoinQueue, AbandonQueue,
// LeaveQueue and AnswerQueueCall (AgentCalled, MIXMONITOR_FILENAME,
// AgentConnect, AgentComplete) send the queue events, but no Dial*,
// Bridge*, MusicOnHold or MixMonitor events, and members are never rung
// on their own;
// a Hangup action on a ringing Originate ends it with OriginateResponse
// Failure Reason 1, which the captures do not show; presence state,
// Agents, AgentLogin/Logoff and Parkinglots are not implemented.
// Queue members and device states survive Restart (astdb), channels do not.
package amitest
