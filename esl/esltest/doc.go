// Package esltest is a fake FreeSWITCH for tests, the demo and the load tool,
// built from real FreeSWITCH 1.10.12 wire captures (esl/testdata/freeswitch,
// copied from shared/fixtures/freeswitch): same header names and order, Content-Types,
// reply texts, URL-encoding (switch_url_encode, `_undef_` for empty values)
// and event order.
//
// It is an independent implementation of the FreeSWITCH side of the Event
// Socket: it has its own reader for client commands and its own encoder, and
// does not import package esl, so a framing bug there is not mirrored here.
// (Its tests frame what it sends with esl's Reader, the one ESL reader the
// tests share, and compare it with the captures framed the same way.)
//
// # Outbound: one call
//
// StartOutbound (or DialOutbound, which also waits) plays the `socket
// host:port async full` dialplan application: it connects to an ESL
// listener and answers connect, myevents, linger, event, filter, api, bgapi,
// getvar, sendmsg and exit, running the apps it is sent (answer, playback,
// play_and_get_digits, set, bridge, transfer, hangup, park, sleep ...) one
// at a time as FreeSWITCH's channel does, with the caller's behaviour taken
// from a Script (digits per play_and_get_digits try, bridge outcomes, caller
// hangup point, DTMF during playbacks). The returned Call records every
// command (Commands, or Script.Observer as they arrive) and every event,
// and lets a test act from outside, as another event socket would:
//
//   - Hangup is `uuid_kill` of the caller's leg.
//   - Transfer(dest, context) is `uuid_transfer <uuid> <dest> XML
//     <context>` (also `api uuid_transfer` on either socket): the running
//     app ends at once and its completion carries the new
//     Caller-Destination-Number and Caller-Context (play_and_get_digits:
//     read_result failure), then CHANNEL_UNPARK, the CHANNEL_EXECUTE_COMPLETE
//     of the `socket` application itself, CHANNEL_STATE x2 and the new
//     extension (fifo_*: the caller is queued). The socket keeps getting
//     the channel's events until hangup, and a sendmsg sent after it still
//     runs, inside the park or queue (what made ivrd hang up queued
//     callers in issue 16 item 1).
//   - SendDTMF(digits) is `uuid_send_dtmf` (also `api uuid_send_dtmf`).
//
// Behaviours taken from the captures and FreeSWITCH's source:
//
//   - the socket app's CHANNEL_PARK (Answer-State ringing) follows the
//     myevents reply (racy on a real switch; Script.NoInitialPark);
//   - a sendmsg execute's events start Script.ExecuteDelay after its +OK
//     (~20 ms on a real switch, DefaultExecuteDelay 2 ms here): a test that
//     hangs up the moment it sees a command may beat the command's events,
//     as it would on a real switch;
//   - a `transfer` execute does not queue behind the running app: it ends
//     it (transfer completion, then the interrupted app's, then the socket
//     app's), which is what a drain hand-over relies on;
//   - mod_dptools playback: DTMF during it (Script.PlaybackDigits, SendDTMF)
//     is reported and dropped, except a playback_terminators digit (default
//     "*", "any", "none"), which ends it with FILE PLAYED and sets
//     playback_terminator_used;
//   - mod_fifo: `fifo <name> in` fires push with FIFO-Slot (the priority,
//     0 by default), then sets fifo_status WAITING; a caller hanging up while
//     queued gets abort (fifo_status ABORTED); with Script.FifoBridge an
//     agent takes the caller (bridge-caller-start) and a later hangup gives
//     bridge-caller-stop with talk and hold times. None of these carry
//     caller or consumer numbers. A hangup after a transfer has no second
//     CHANNEL_UNPARK (the socket app's park ended at the transfer); a
//     transfer to park unparks that park (s1b_outbound_transfer).
//
// Each call runs on its own goroutine with its own timers; all of them end
// with the call.
//
// # Inbound: the event socket
//
// NewServer returns a running fake event socket (port 8021 on a real
// switch) in the manner of httptest.NewServer: Addr says where it listens,
// Close stops it and every call it made. It speaks auth, api, bgapi with
// BACKGROUND_JOB, events plain|json, filter, and originate, which creates
// the channel and, when configured, connects it to an outbound listener
// like the socket app, so dialer -> FreeSWITCH -> IVR can be tested end to
// end.
//
// # Files
//
// wire.go (command reader, event encoders), channel.go (a channel's headers
// and variables), subscription.go and api.go (what both sockets share);
// outbound: call.go (public API), session.go (the per-call loop),
// dispatch.go (commands), apps.go, digits.go, bridge.go, hangup.go (the
// application emulations); inbound: server.go, inboundconn.go.
//
// # Simplifications
//
// The socket is always async (no static mode); events requested as xml are
// sent as plain; play_and_get_digits regexps use Go syntax, unanchored like PCRE in FS;
// waits for digits that never come last PlaybackDuration, not the app's
// timeout; after hangup a lingering socket answers sendmsg with +OK
// (FreeSWITCH queues the message on the dead session) and runs nothing.
package esltest
