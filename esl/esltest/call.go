package esltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Script tells the fake how the caller and the network behave on one call.
// The zero Script is a valid call: async full socket, random UUID, every
// prompt 10ms, no digits, every bridge failing with NO_ANSWER, no caller hangup.
type Script struct {
	UUID                                            string // default: random v4
	CallerIDNumber, CallerIDName, DestinationNumber string
	// Vars are extra channel variables, sent as variable_<k> in the channel
	// data and in every later event (e.g. ivr_flow).
	Vars map[string]string
	// PlaybackDuration is how long each playback (and each prompt inside
	// play_and_get_digits, and each wait for digits that never come) takes.
	PlaybackDuration time.Duration
	// Digits is consumed one entry per play_and_get_digits attempt: "2" =
	// the caller enters 2, "" = silence, anything not matching = invalid.
	// When exhausted every further attempt is silence.
	Digits []string
	// Bridges is consumed one entry per bridge; default: fail with NO_ANSWER.
	Bridges []BridgeOutcome
	// HangupAt makes the caller hang up.
	HangupAt *HangupPoint
	// Observer, when set, is called for every command as it arrives, from the
	// call's goroutine: it must be cheap and must not block.
	Observer func(Record)
	// FifoBridge makes a transfer to a destination starting with "fifo_"
	// produce CUSTOM fifo::info events (push, then bridge-caller-start after
	// PlaybackDuration), as mod_fifo does when an agent takes the caller.
	FifoBridge bool
	// ChannelName overrides the default "sofia/internal/<caller>@127.0.0.1".
	ChannelName string
	// OtherLegUUID, when set, makes the channel look like the B leg of a
	// loopback originate (variable_origination_uuid, variable_loopback_leg ...).
	OtherLegUUID string
	// RejectCause, when set, makes an originate of this script (inbound
	// Server) fail with that cause instead of connecting.
	RejectCause string
	// ExecuteDelay is the time between a sendmsg execute's +OK and the
	// app's first event: FreeSWITCH runs a queued app at the channel's next
	// frame, ~20 ms later (captures: "the first event for a queued execute
	// comes ~20 ms after the +OK"). Zero means DefaultExecuteDelay, small
	// so tests stay fast; negative means none.
	ExecuteDelay time.Duration
	// NoInitialPark leaves out the CHANNEL_PARK (Answer-State ringing) that
	// the socket app's own park fires right after myevents. It is racy on a
	// real switch (4 of the 15 outbound captures have it, e.g.
	// s1d_outbound_park_under_control), so the fake sends it unless told not
	// to.
	NoInitialPark bool
	// PlaybackDigits is consumed one entry per playback: the DTMF the
	// caller presses halfway through it ("" = none). As in mod_dptools'
	// playback, digits are reported as DTMF events and dropped, except a
	// digit in the channel variable playback_terminators (default "*",
	// "none" for none, "any" for all), which ends the playback with FILE
	// PLAYED and sets playback_terminator_used.
	PlaybackDigits []string
}

// DefaultExecuteDelay is the ExecuteDelay of a Script that sets none.
const DefaultExecuteDelay = 2 * time.Millisecond

// BridgeOutcome scripts one bridge: answered for TalkTime, or failed with Cause
// (USER_NOT_REGISTERED, USER_BUSY, NO_ANSWER, ...).
type BridgeOutcome struct {
	Answer   bool
	TalkTime time.Duration
	Cause    string
}

// HangupPoint scripts a caller hangup: Delay after the Nth (1-based, default
// 1) execution of App starts, or, when App is "", Delay after the TCP connect.
type HangupPoint struct {
	App   string
	Nth   int
	Delay time.Duration
	Cause string // default NORMAL_CLEARING
}

// Record is one command the fake received.
type Record struct {
	At   time.Time
	Verb string // connect, myevents, linger, event, sendmsg, api, bgapi, getvar, exit, ...
	Raw  string
	// Headers holds the command's header lines with lowercased names.
	Headers map[string]string
	// App, Arg and EventUUID are set for sendmsg execute.
	App, Arg, EventUUID string
	// SinceLastComplete is the time since the last CHANNEL_EXECUTE_COMPLETE
	// this fake wrote, 0 if none yet.
	SinceLastComplete time.Duration
}

// Call is the result (and, while it runs, the handle) of one outbound call.
type Call struct {
	uuid    string
	actions chan func(*session) // run on the session's goroutine
	done    chan struct{}

	mu           sync.Mutex
	records      []Record
	events       []string
	hangupCause  string
	disconnected bool
	clientClosed bool
	err          error
	vars         headerList // a copy the session made (syncVars)
}

// UUID is the channel's Unique-ID.
func (c *Call) UUID() string { return c.uuid }

// Done is closed when the call's connection has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Wait blocks until the connection has ended and returns Err.
func (c *Call) Wait() error {
	<-c.done
	return c.Err()
}

// Commands returns every command received so far, in order.
func (c *Call) Commands() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Record(nil), c.records...)
}

// Events returns the Event-Name of every event the channel produced so far,
// in order, whether or not the client was subscribed to it.
func (c *Call) Events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// HangupCause is the cause the channel hung up with, "" if it did not hang
// up while the client was connected.
func (c *Call) HangupCause() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hangupCause
}

// Disconnected reports whether the fake ended the connection itself (it sent
// a `disconnect` notice: hangup without linger, exit, linger timeout).
func (c *Call) Disconnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.disconnected
}

// ClosedByClient reports whether the client closed the connection first.
func (c *Call) ClosedByClient() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientClosed
}

// Err is the error that ended the call abnormally (context cancelled, I/O
// error other than the client closing), nil otherwise.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Variables returns a snapshot of the channel variables, updated as the call
// runs (complete after Done).
func (c *Call) Variables() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.vars))
	for _, v := range c.vars {
		out[v.name] = v.value
	}
	return out
}

// Hangup makes the caller hang up now with cause (default NORMAL_CLEARING),
// like `uuid_kill` on the caller's leg. It does nothing once the call ended.
func (c *Call) Hangup(cause string) {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	c.act(func(s *session) { s.teardown(cause) })
}

// Transfer moves the channel from outside, like `uuid_transfer <uuid>
// <dest> XML <context>` from another event socket, an attended transfer or
// a supervisor pickup (context "" keeps the channel's). The app running on
// the socket ends at once and its CHANNEL_EXECUTE_COMPLETE already carries
// the new Caller-Destination-Number and Caller-Context (an interrupted
// play_and_get_digits reports read_result failure and no digits); then
// CHANNEL_UNPARK and the CHANNEL_EXECUTE_COMPLETE of the `socket`
// application itself, CHANNEL_STATE x2, and the new extension's dialplan
// (a fifo_* destination queues the caller as mod_fifo does). The socket
// stays open and keeps getting the channel's events. A sendmsg sent after
// it is still queued on the channel and run by the park or queue the
// caller is in (mod_event_socket queues it as a private event; their loops
// run those): a playback or hangup sent then reaches the caller in the
// queue. It does nothing once the call has ended.
func (c *Call) Transfer(dest, context string) {
	c.act(func(s *session) { s.transferTo(dest, context, nil) })
}

// SendDTMF makes the caller press digits now, like `uuid_send_dtmf`: each
// is a DTMF event; during a playback a playback_terminators digit ends it,
// during play_and_get_digits they are not taken (script Digits instead).
func (c *Call) SendDTMF(digits string) {
	c.act(func(s *session) { s.pressDuring(digits) })
}

// act runs f on the call's goroutine, unless the call is over.
func (c *Call) act(f func(*session)) {
	select {
	case c.actions <- f:
	case <-c.done:
	}
}

// DialOutbound dials addr like FreeSWITCH's `socket addr async full`
// application and plays the channel according to s until the connection ends
// or ctx is done. The returned error is Call.Err (the *Call is non-nil unless
// the dial failed).
func DialOutbound(ctx context.Context, addr string, s Script) (*Call, error) {
	c, err := StartOutbound(ctx, addr, s)
	if err != nil {
		return nil, err
	}
	return c, c.Wait()
}

// StartOutbound is DialOutbound without waiting: it dials, starts the call's
// goroutines and returns; use Call.Wait or Call.Done.
func StartOutbound(ctx context.Context, addr string, s Script) (*Call, error) {
	return startOutbound(ctx, addr, s, newSwitchInfo(), nil)
}

// ErrDial wraps failures to reach the ESL listener.
var ErrDial = errors.New("esltest: dial outbound listener")

func startOutbound(ctx context.Context, addr string, s Script, si *switchInfo, onHangup func(cause string, vars map[string]string)) (*Call, error) {
	// No TCP keepalive: it is four setsockopt calls per call, and on a
	// loopback test connection it never fires (the load tool dials
	// thousands per second).
	d := net.Dialer{KeepAlive: -1}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrDial, addr, err)
	}
	sess := newSession(ctx, conn, addr, s, si, onHangup)
	go sess.run()
	return sess.call, nil
}
