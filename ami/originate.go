package ami

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Disposition is the final result of an originated call.
type Disposition string

// Dispositions. Reason codes are the OriginateResponse Reason (Asterisk's
// AST_CONTROL_* of the outgoing leg): 4 answered, 5 busy, 3 no answer, 8
// congestion, 0 for no such extension, unknown technology and a reject
// before answer (told apart by the hangup cause).
const (
	Answered           Disposition = "answered"
	Busy               Disposition = "busy"
	NoAnswer           Disposition = "no-answer"
	Congestion         Disposition = "congestion"
	Rejected           Disposition = "rejected"            // hung up before answer (cause 21)
	InvalidDestination Disposition = "invalid-destination" // no such extension, unknown technology, missing target
	Failed             Disposition = "failed"              // any other failure
	Timeout            Disposition = "timeout"             // no OriginateResponse within the ring time plus grace
	Unknown            Disposition = "unknown"             // the connection dropped and the call was gone after it
)

// Outcome is the one final result the Tracker delivers per call.
type Outcome struct {
	ID          string // the caller's call id (also the correlation variable's value)
	ChannelID   string // Uniqueid of the originated channel (;1 of a Local channel)
	Disposition Disposition
	Reason      int    // OriginateResponse Reason; -1 if none arrived
	Cause       int    // hangup cause (of ;2 for Local channels, where the real one is); -1 if none
	CauseText   string // Cause-txt
	DialStatus  string // DialEnd DialStatus of the originated leg, if any
	Placed      time.Time
	Answered    time.Time // zero when never answered
	Ended       time.Time
	Talk        time.Duration // Ended - Answered for answered calls
	// Incomplete is set when events were lost to a connection drop: Ended
	// and Cause are when and what the Tracker last knew.
	Incomplete bool
}

// DefaultVariable is the channel variable the Tracker sets to the call id.
const DefaultVariable = "FSIVR_CALL_ID"

// Grace periods of the Tracker (see Tick).
const (
	// DefaultResponseGrace is added to an Originate's ring Timeout before a
	// call without OriginateResponse is given up as Timeout.
	DefaultResponseGrace = 10 * time.Second
	// DefaultHangupGrace bounds the wait for a failed call's remaining
	// Hangup events after its OriginateResponse (they come within ms).
	DefaultHangupGrace = 2 * time.Second
)

// callState is where a tracked call is; one type for the whole machine.
type callState uint8

const (
	statePlaced   callState = iota // Originate built, not yet answered by Asterisk
	stateQueued                    // Asterisk accepted the action
	stateAnswered                  // OriginateResponse Success
	stateFailed                    // OriginateResponse Failure, waiting for the last Hangups
	stateLost                      // the connection dropped; waiting for Resync
)

type trackedCall struct {
	out       Outcome
	state     callState
	otherID   string
	deadline  time.Time // statePlaced/stateQueued: Timeout; stateFailed: hangup grace
	live      map[string]bool
	causes    map[string][2]string // Uniqueid -> cause, text
	dialBegun bool
	prior     callState // state before stateLost
}

// Tracker follows async Originates to exactly one Outcome each, from the
// events it is fed, whatever their order (OriginateResponse before or after
// Hangup and Cdr, Cdr before its Hangup: 50_*.summary.json). It is pure:
// no I/O, no goroutines, no clock; the owner feeds it messages with the
// time they arrived and calls Tick. It is not safe for concurrent use.
//
// Correlation is by pre-assigned Uniqueids (ChannelId/OtherChannelId,
// Asterisk ≥ 12): Asterisk reports the ChannelId in OriginateResponse even
// when no channel ever existed, so events that arrive before the
// OriginateResponse, or before the Originate call returned, are applied to
// the right call. The call id is also set as a channel variable
// (DefaultVariable) for the dialplan and call logs.
type Tracker struct {
	Variable      string        // correlation variable (DefaultVariable when "")
	ResponseGrace time.Duration // DefaultResponseGrace when 0
	HangupGrace   time.Duration // DefaultHangupGrace when 0
	// MaxDuration, when set, ends an answered call that long after its
	// answer (Incomplete): a port is not held forever if its Hangup is
	// never seen (an event mask or filter hiding it). 0: no limit.
	MaxDuration time.Duration

	calls map[string]*trackedCall // by id
	byUID map[string]*trackedCall // by ChannelID and OtherChannelID
}

// NewTracker returns an empty Tracker with the defaults.
func NewTracker() *Tracker { return &Tracker{} }

func (t *Tracker) init() {
	if t.calls == nil {
		t.calls = map[string]*trackedCall{}
		t.byUID = map[string]*trackedCall{}
	}
}

// validCallID: the id becomes a Uniqueid and a variable value.
func validCallID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("%w: call id must be 1-64 bytes", ErrInvalidValue)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: call id %q: only letters, digits, '-', '_' and '.'", ErrInvalidValue, id)
		}
	}
	return nil
}

// Place starts tracking call id and returns the Originate to send: Async,
// ChannelId = id, OtherChannelId = id + "-2" (unless set) and the
// correlation variable added. Send it with Client.Originate, then report
// the result with Sent. Never reuse an id: late events of an ended call
// (Cdr, a last Hangup) carry its ChannelId and would be taken for the new
// call's.
func (t *Tracker) Place(id string, o Originate, now time.Time) (Originate, error) {
	t.init()
	if err := validCallID(id); err != nil {
		return o, err
	}
	if _, dup := t.calls[id]; dup {
		return o, fmt.Errorf("%w: call id %q is already tracked", ErrInvalidValue, id)
	}
	o.Async = true
	if o.ChannelID == "" {
		o.ChannelID = id
	}
	if o.OtherChannelID == "" {
		o.OtherChannelID = id + "-2"
	}
	if _, taken := t.byUID[o.ChannelID]; taken {
		return o, fmt.Errorf("%w: ChannelId %q is already tracked", ErrInvalidValue, o.ChannelID)
	}
	if _, err := o.headers(); err != nil {
		return o, err
	}
	o.Variables = append(append([][2]string(nil), o.Variables...), [2]string{t.variable(), id})
	ring := o.Timeout
	if ring <= 0 {
		ring = 30 * time.Second
	}
	c := &trackedCall{
		out:      Outcome{ID: id, ChannelID: o.ChannelID, Reason: -1, Cause: -1, Placed: now},
		otherID:  o.OtherChannelID,
		deadline: now.Add(ring + t.responseGrace()),
		live:     map[string]bool{},
		causes:   map[string][2]string{},
	}
	t.calls[id] = c
	t.byUID[o.ChannelID] = c
	t.byUID[o.OtherChannelID] = c
	return o, nil
}

func (t *Tracker) variable() string {
	if t.Variable != "" {
		return t.Variable
	}
	return DefaultVariable
}

func (t *Tracker) responseGrace() time.Duration {
	if t.ResponseGrace > 0 {
		return t.ResponseGrace
	}
	return DefaultResponseGrace
}

func (t *Tracker) hangupGrace() time.Duration {
	if t.HangupGrace > 0 {
		return t.HangupGrace
	}
	return DefaultHangupGrace
}

// Sent reports what Client.Originate returned for call id. An immediate
// `Response: Error` (a missing target extension: "Extension does not
// exist.") ends the call at once: the Outcome is returned with true. A
// closed connection (ErrClosed) leaves the call to Resync (the action may
// have been queued before the drop); a reply that did not come in time
// leaves it to its events and Tick.
func (t *Tracker) Sent(id string, err error, now time.Time) (Outcome, bool) {
	c := t.calls[id]
	if c == nil {
		return Outcome{}, false
	}
	var re *ResponseError
	switch {
	case err == nil:
		if c.state == statePlaced {
			c.state = stateQueued
		}
	case errors.As(err, &re):
		d := Failed
		if strings.Contains(strings.ToLower(re.Message), "does not exist") {
			d = InvalidDestination
		}
		c.out.Disposition = d
		return t.finish(c, now), true
	case errors.Is(err, ErrInvalidValue):
		c.out.Disposition = Failed
		return t.finish(c, now), true
	case errors.Is(err, ErrClosed):
		t.lose(c)
	default:
		// No reply in time (ErrTimeout, a context error) on a live
		// connection: Asterisk may have queued the call, so its events
		// still decide it, and Tick ends it as Timeout if none come.
		if c.state == statePlaced {
			c.state = stateQueued
		}
	}
	return Outcome{}, false
}

// Feed applies one message and returns the call it ended, if any.
// Messages that concern no tracked call are ignored, so the owner can feed
// it every event.
func (t *Tracker) Feed(m *Message, now time.Time) (Outcome, bool) {
	if len(t.calls) == 0 || !m.IsEvent() {
		return Outcome{}, false
	}
	var c *trackedCall
	switch m.Name() {
	case "OriginateResponse":
		if c = t.byUID[m.Get("Uniqueid")]; c == nil {
			return Outcome{}, false
		}
		c.out.Reason = atoi(m.Get("Reason"))
		if strings.EqualFold(m.Response(), "Success") {
			c.state = stateAnswered
			if c.out.Answered.IsZero() {
				c.out.Answered = now
			}
		} else {
			c.state = stateFailed
			c.deadline = now.Add(t.hangupGrace())
		}
	case "Newchannel":
		uid := m.Get("Uniqueid")
		if c = t.byUID[uid]; c == nil {
			return Outcome{}, false
		}
		c.live[uid] = true
	case "Newstate":
		uid := m.Get("Uniqueid")
		if c = t.byUID[uid]; c == nil || uid != c.out.ChannelID || m.Get("ChannelState") != "6" {
			return Outcome{}, false
		}
		if c.out.Answered.IsZero() {
			c.out.Answered = now
		}
	case "DialBegin", "DialEnd":
		uid := m.Get("DestUniqueid")
		if c = t.byUID[uid]; c == nil || uid != c.out.ChannelID {
			return Outcome{}, false
		}
		c.dialBegun = true
		if m.Name() == "DialEnd" {
			c.out.DialStatus = m.Get("DialStatus")
		}
	case "Hangup":
		uid := m.Get("Uniqueid")
		if c = t.byUID[uid]; c == nil {
			return Outcome{}, false
		}
		delete(c.live, uid)
		c.causes[uid] = [2]string{m.Get("Cause"), m.Get("Cause-txt")}
		c.out.Ended = now
	default:
		return Outcome{}, false
	}
	// A call ends once Asterisk has decided it (OriginateResponse) and
	// every channel it created has hung up; a failure that created no
	// channel (unknown technology) ends at its OriginateResponse.
	if (c.state == stateAnswered || c.state == stateFailed) && len(c.live) == 0 &&
		(len(c.causes) > 0 || c.state == stateFailed) {
		return t.finishDecided(c, now), true
	}
	return Outcome{}, false
}

// Tick ends calls whose time is up: no OriginateResponse within the ring
// Timeout plus ResponseGrace (Timeout), a failed call whose last Hangup
// did not come within HangupGrace (ended with what is known), an answered
// call past MaxDuration. Call it every second or so.
func (t *Tracker) Tick(now time.Time) []Outcome {
	var outs []Outcome
	for _, c := range t.calls {
		due := !now.Before(c.deadline)
		switch {
		case due && (c.state == statePlaced || c.state == stateQueued):
			c.out.Disposition = Timeout
			outs = append(outs, t.finish(c, now))
		case due && c.state == stateFailed:
			outs = append(outs, t.finishDecided(c, now))
		case c.state == stateAnswered:
			if t.MaxDuration > 0 && now.Sub(c.out.Answered) >= t.MaxDuration {
				c.out.Incomplete = true
				outs = append(outs, t.finishDecided(c, now))
			}
		}
	}
	return outs
}

// Disconnected marks every call as lost: events may be missed until the
// connection is back and Resync has been called.
func (t *Tracker) Disconnected() {
	for _, c := range t.calls {
		t.lose(c)
	}
}

func (t *Tracker) lose(c *trackedCall) {
	if c.state != stateLost {
		c.prior = c.state
		c.state = stateLost
	}
}

// Resync takes the live channels after a reconnect (CoreShowChannels or
// Status items: their Uniqueid and ChannelState headers) and settles every
// lost call: one whose channel is still up resumes tracking (as answered
// if its channel is Up and its OriginateResponse was missed); one that is
// gone ends, with the disposition already known (an OriginateResponse came
// before the drop) or Unknown. Feed the events queued on the new
// connection before calling it: they are older than the channel list (an
// OriginateResponse sent during the reconnect is among them).
func (t *Tracker) Resync(channels []*Message, now time.Time) []Outcome {
	up := map[string]bool{}
	answered := map[string]bool{}
	for _, m := range channels {
		up[m.Get("Uniqueid")] = true
		if m.Get("ChannelState") == "6" {
			answered[m.Get("Uniqueid")] = true
		}
	}
	var outs []Outcome
	for _, c := range t.calls {
		if c.state != stateLost {
			continue
		}
		alive := up[c.out.ChannelID] || up[c.otherID]
		if alive {
			c.state = c.prior
			switch {
			case c.state == statePlaced || c.state == stateQueued:
				// The OriginateResponse may have been sent while we were
				// away: an Up channel was answered; a ringing one still
				// gets its OriginateResponse (it goes to every session).
				c.state = stateQueued
				if answered[c.out.ChannelID] {
					c.state = stateAnswered
					c.out.Answered = now
					c.out.Reason = 4
					c.out.Incomplete = true
				}
			}
			for uid := range c.live {
				if !up[uid] {
					delete(c.live, uid)
					c.causes[uid] = [2]string{"-1", ""}
				}
			}
			for _, uid := range []string{c.out.ChannelID, c.otherID} {
				if _, gone := c.causes[uid]; up[uid] && !gone {
					// A Hangup fed since the reconnect is newer than a
					// channel list taken before it.
					c.live[uid] = true
				}
			}
			if (c.state == stateAnswered || c.state == stateFailed) && len(c.live) == 0 {
				outs = append(outs, t.finishDecided(c, now))
			}
			continue
		}
		c.out.Incomplete = true
		if c.out.Ended.IsZero() {
			c.out.Ended = now
		}
		switch c.prior {
		case stateAnswered, stateFailed:
			c.state = c.prior
			outs = append(outs, t.finishDecided(c, now))
		default:
			c.out.Disposition = Unknown
			outs = append(outs, t.finish(c, now))
		}
	}
	return outs
}

// Len is the number of calls in flight.
func (t *Tracker) Len() int { return len(t.calls) }

// Tracked reports whether call id is in flight.
func (t *Tracker) Tracked(id string) bool { _, ok := t.calls[id]; return ok }

// finishDecided ends an answered or failed call, working out the
// disposition and the cause.
func (t *Tracker) finishDecided(c *trackedCall, now time.Time) Outcome {
	if cause, ok := c.causes[c.otherID]; ok {
		c.out.Cause, c.out.CauseText = atoi(cause[0]), cause[1]
	} else if cause, ok := c.causes[c.out.ChannelID]; ok {
		c.out.Cause, c.out.CauseText = atoi(cause[0]), cause[1]
	}
	if c.state == stateAnswered {
		c.out.Disposition = Answered
	} else {
		c.out.Disposition = failureDisposition(c.out.Reason, c.out.Cause, c.dialBegun, len(c.causes) > 0)
	}
	return t.finish(c, now)
}

// failureDisposition maps a failed OriginateResponse to a disposition.
func failureDisposition(reason, cause int, dialBegun, hadChannels bool) Disposition {
	switch reason {
	case 5:
		return Busy
	case 3:
		return NoAnswer
	case 8:
		return Congestion
	}
	switch cause {
	case 17:
		return Busy
	case 18, 19:
		return NoAnswer
	case 34, 38, 42:
		return Congestion
	case 21:
		return Rejected
	case 1, 3, 28:
		return InvalidDestination
	}
	if reason == 0 && (!hadChannels || !dialBegun) {
		return InvalidDestination // unknown technology, or no such extension
	}
	return Failed
}

func (t *Tracker) finish(c *trackedCall, now time.Time) Outcome {
	if c.out.Ended.IsZero() {
		c.out.Ended = now
	}
	if !c.out.Answered.IsZero() && c.out.Disposition == Answered {
		c.out.Talk = c.out.Ended.Sub(c.out.Answered)
	} else {
		c.out.Answered = time.Time{}
	}
	delete(t.calls, c.out.ID)
	delete(t.byUID, c.out.ChannelID)
	delete(t.byUID, c.otherID)
	return c.out
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
