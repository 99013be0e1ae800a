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
}

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
	uuid      string
	hangupReq chan string
	done      chan struct{}

	mu           sync.Mutex
	records      []Record
	events       []string
	hangupCause  string
	disconnected bool
	clientClosed bool
	err          error
	vars         map[string]string
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
	for k, v := range c.vars {
		out[k] = v
	}
	return out
}

// Hangup makes the caller hang up now with cause (default NORMAL_CLEARING),
// like `uuid_kill` on the caller's leg. It does nothing once the call ended.
func (c *Call) Hangup(cause string) {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	select {
	case c.hangupReq <- cause:
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

func startOutbound(ctx context.Context, addr string, s Script, si *switchInfo, onHangup func(cause string)) (*Call, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrDial, addr, err)
	}
	sess := newSession(ctx, conn, addr, s, si, onHangup)
	go sess.run()
	return sess.call, nil
}
