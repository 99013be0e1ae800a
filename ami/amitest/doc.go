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
//   - Ping, CoreStatus, Command (Output lines), Getvar/Setvar (also
//     DEVICE_STATE(...) for Custom devices), Redirect, Hangup, Park.
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
//
// Tests observe it through Actions (every action received, with its headers
// in order and its arrival time), InFlightOriginates and Channels, and break
// it with PauseReading, DropAll, Refuse, Restart and the slow-client cut
// (Config.SlowClientLimit, 4 MiB like Asterisk). Emit sends any scripted
// event to the sessions whose mask and filters let it through, for the
// call-centre model's tests.
package amitest
