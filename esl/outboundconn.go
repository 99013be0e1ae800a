package esl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OutboundConn is one call's outbound socket. Its methods are safe for
// concurrent use, but the intended shape is one goroutine per call that
// runs the flow: it calls Execute/Send and selects on Notify, HungUp, Done
// and its own timers.
//
// The embedded Conn's mailbox (Notify, Drain) holds every event not claimed
// by an Execute waiter: completions of Send-started apps, DTMF, CUSTOM,
// CHANNEL_HANGUP, CHANNEL_HANGUP_COMPLETE, and completions that arrive
// after their Execute returned (e.g. PLAYBACK ERROR after ErrHangup).
// HungUp may stay open if the connection dies without a hangup event, so a
// call loop selects on Done too.
type OutboundConn struct {
	*Conn
	uuid        string
	channelData *Message
	linger      bool

	foreignSeen atomic.Bool // an event about another channel was logged

	hmu         sync.Mutex
	hungUp      bool
	hangupCause string
	hungUpCh    chan struct{}
	waiters     map[string]chan *Message // Application-UUID -> Execute waiter
}

// newOutboundConn performs the outbound handshake and starts the reader.
func newOutboundConn(ctx context.Context, nc net.Conn, cfg Config, linger bool, events []string) (*OutboundConn, error) {
	for _, e := range events {
		if err := ValidateValue(e); err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	rd := newConnReader(nc, cfg)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	cd, err := func() (*Message, error) {
		if _, err := nc.Write([]byte("connect\n\n")); err != nil {
			return nil, err
		}
		m, err := rd.ReadMessage()
		if err != nil {
			return nil, err
		}
		if m.Kind() != KindCommandReply {
			return nil, fmt.Errorf("%w: %s in answer to connect", ErrUnexpectedMessage, m.Kind())
		}
		if rt := DecodeValue(m.ReplyText()); !hasPrefix(rt, "+OK") {
			return nil, &ReplyError{Command: "connect", Reply: rt}
		}
		return m, nil
	}()
	if !stop() || err != nil {
		_ = nc.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("esl: connect: %w", err)
	}
	cd.format = FormatChannelData
	// Every call is keyed by its Unique-ID (call log, metrics, the
	// mailbox's filter below); a reply without one would merge calls.
	// The id is read from the compacted copy: a string of cd would pin the
	// whole reply (~4 KB plus its index) for the call's life.
	channelData := compactChannelData(cd)
	uuid := channelData.Get("Unique-ID")
	if err := validateUUID(uuid); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("esl: connect: %w", err)
	}
	oc := &OutboundConn{
		Conn:        newConn(nc, rd, cfg),
		uuid:        uuid,
		channelData: channelData,
		linger:      linger,
		hungUpCh:    make(chan struct{}),
		waiters:     map[string]chan *Message{},
	}
	oc.log = oc.log.With("uuid", oc.uuid)
	oc.claim = oc.claimEvent
	oc.onNotice = func(*Message) { oc.markHangup("") }
	oc.start()
	// The setup commands go in one write and their replies are read in
	// order: one round trip instead of three per call.
	steps := []string{"myevents"}
	if linger {
		steps = append(steps, "linger")
	}
	steps = append(steps, "event plain "+strings.Join(events, " "))
	var payload []byte
	for _, cmd := range steps {
		payload = appendCommand(payload, cmd)
	}
	replies := make([]*Message, len(steps))
	if err := oc.roundTrips(ctx, payload, replies); err != nil {
		_ = oc.Close()
		return nil, fmt.Errorf("esl: outbound setup %q: %w", strings.Join(steps, "; "), err)
	}
	for i, m := range replies {
		if m.Kind() == KindCommandReply && hasPrefix(m.ReplyText(), "-ERR") {
			_ = oc.Close()
			return nil, fmt.Errorf("esl: outbound setup %q: %w", steps[i], &ReplyError{Command: steps[i], Reply: m.ReplyText()})
		}
	}
	return oc, nil
}

// claimEvent runs on the reader goroutine: it hands a completion to its
// Execute waiter and notes hangups. Everything else goes to the mailbox.
//
// Events about another channel are dropped: after myevents FreeSWITCH
// sends only events whose Unique-ID is the controlled channel's (and jobs
// whose Job-Owner-UUID is; they carry no Unique-ID), so one naming another
// channel comes from a broken or hostile peer and must not end, or steer,
// this call.
func (oc *OutboundConn) claimEvent(m *Message) bool {
	if id := m.Get("Unique-ID"); id != "" && id != oc.uuid {
		oc.dropEvent()
		if oc.foreignSeen.CompareAndSwap(false, true) {
			oc.log.Warn("esl: ignoring events about another channel", "event", m.Name(), "other_uuid", truncate(id, 64))
		}
		return true
	}
	switch m.Name() {
	case "CHANNEL_EXECUTE_COMPLETE":
		id := m.Get("Application-UUID")
		oc.hmu.Lock()
		// After the hangup, waiters get ErrHangup; a completion arriving
		// later (PLAYBACK ERROR of an interrupted app) goes to the mailbox.
		w, ok := oc.waiters[id]
		ok = ok && !oc.hungUp
		if ok {
			delete(oc.waiters, id)
		}
		oc.hmu.Unlock()
		if ok {
			oc.handOff(w, m) // buffered, one completion per waiter
			return true
		}
	case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE":
		if m.Get("Unique-ID") == oc.uuid { // a hangup names its channel
			oc.markHangup(m.Get("Hangup-Cause"))
		}
	}
	return false
}

func (oc *OutboundConn) markHangup(cause string) {
	oc.hmu.Lock()
	defer oc.hmu.Unlock()
	if oc.hangupCause == "" {
		oc.hangupCause = cause
	}
	if !oc.hungUp {
		oc.hungUp = true
		close(oc.hungUpCh)
	}
}

// UUID is the controlled channel's Unique-ID.
func (oc *OutboundConn) UUID() string { return oc.uuid }

// ChannelData is the connect reply: the channel's variables and caller
// profile (e.g. Get("variable_ivr_flow"), Get("Caller-Caller-ID-Number")).
// Only the headers a call can use are kept (see keepChannelHeader); the
// event bookkeeping of the reply (Event-*, FreeSWITCH-*, codecs, channel
// state, Caller-*-Time) reads as absent.
func (oc *OutboundConn) ChannelData() *Message { return oc.channelData }

// compactChannelData copies the headers of a connect reply that
// keepChannelHeader keeps into a message of their own. The reply is ~3.5 KB
// of headers plus their index, held for the whole call; the bookkeeping
// half of it was never read.
func compactChannelData(cd *Message) *Message {
	n := 1
	for i := range cd.nOuter {
		ls, le := cd.slot(i)
		line := cd.buf[ls:le]
		if colon := bytes.IndexByte(line, ':'); colon > 0 && keepChannelHeader(line[:colon]) {
			n += len(line) + 1
		}
	}
	buf := make([]byte, 0, n)
	for i := range cd.nOuter {
		ls, le := cd.slot(i)
		line := cd.buf[ls:le]
		if colon := bytes.IndexByte(line, ':'); colon > 0 && keepChannelHeader(line[:colon]) {
			buf = append(append(buf, line...), '\n')
		}
	}
	buf = append(buf, '\n')
	m, err := parseFrame(buf, len(buf))
	if err != nil { // cannot happen: the lines parsed once already
		return cd
	}
	m.format = FormatChannelData
	return m
}

// channelHeaders are the connect-reply headers kept besides the channel
// variables and the caller profile.
var channelHeaders = map[string]bool{
	"Content-Type": true, "Reply-Text": true, "Socket-Mode": true, "Control": true,
	"Unique-ID": true, "Core-UUID": true, "Channel-Name": true, "Channel-Call-UUID": true,
	"Channel-Caller-ID-Number": true, "Channel-Caller-ID-Name": true,
	"Channel-Destination-Number": true, "Channel-Unique-ID": true,
	"Call-Direction": true, "Answer-State": true,
}

// keepChannelHeader tells the connect-reply headers a call may read: every
// channel variable (what the dialplan and a dialer set; the flow is picked
// by one), the caller profile except its timestamps (numbers, names,
// context, ANI, network address), and channelHeaders.
func keepChannelHeader(name []byte) bool {
	switch {
	case bytes.HasPrefix(name, []byte("variable_")):
		return true
	case bytes.HasPrefix(name, []byte("Caller-")):
		return !bytes.HasSuffix(name, []byte("-Time"))
	}
	return channelHeaders[string(name)]
}

// HungUp is closed when the channel hangs up (CHANNEL_HANGUP,
// CHANNEL_HANGUP_COMPLETE or a disconnect notice, whichever comes first).
func (oc *OutboundConn) HungUp() <-chan struct{} { return oc.hungUpCh }

// HangupCause is the Hangup-Cause of the hangup event ("" before hangup or
// if it is unknown).
func (oc *OutboundConn) HangupCause() string {
	oc.hmu.Lock()
	defer oc.hmu.Unlock()
	return oc.hangupCause
}

func (oc *OutboundConn) isHungUp() bool {
	oc.hmu.Lock()
	defer oc.hmu.Unlock()
	return oc.hungUp
}

// Send starts app with arg on the channel (sendmsg execute with event-lock
// and a fresh Event-UUID) and returns that UUID once FreeSWITCH accepted it
// (+OK); the app's CHANNEL_EXECUTE_COMPLETE carries it as Application-UUID
// and arrives in the mailbox. It returns ErrHangup without writing anything
// if the channel has hung up.
func (oc *OutboundConn) Send(ctx context.Context, app, arg string) (string, error) {
	if err := validateAll(app, arg); err != nil {
		return "", err
	}
	id := NewUUID()
	return id, oc.send(ctx, app, arg, id)
}

func (oc *OutboundConn) send(ctx context.Context, app, arg, id string) error {
	if app == "" {
		return fmt.Errorf("%w: empty application name", ErrInvalidValue)
	}
	if oc.isHungUp() {
		return ErrHangup
	}
	m, err := oc.roundTrip(ctx, appendSendmsg(nil, app, arg, id, true))
	if err != nil {
		return err
	}
	if rt := m.ReplyText(); !hasPrefix(rt, "+OK") {
		return &ReplyError{Command: "sendmsg execute " + app, Reply: rt}
	}
	return nil
}

// Execute runs app and waits for its CHANNEL_EXECUTE_COMPLETE (matched by
// Application-UUID, never by name), which it returns; that completion does
// not go to the mailbox. It returns ErrHangup as soon as the channel hangs
// up (FreeSWITCH reports a hangup before the interrupted app's completion,
// and never completes an unknown app), or ctx.Err(). The app keeps running
// in FreeSWITCH if ctx ends first.
func (oc *OutboundConn) Execute(ctx context.Context, app, arg string) (*Message, error) {
	if err := validateAll(app, arg); err != nil {
		return nil, err
	}
	id := NewUUID()
	w := make(chan *Message, 1)
	oc.hmu.Lock()
	oc.waiters[id] = w // before writing: the completion may beat the reply
	oc.hmu.Unlock()
	defer func() {
		oc.hmu.Lock()
		delete(oc.waiters, id)
		oc.hmu.Unlock()
	}()
	if err := oc.send(ctx, app, arg, id); err != nil {
		return nil, err
	}
	select {
	case m := <-w:
		return m, nil
	case <-oc.hungUpCh:
		select { // a completion that came before the hangup wins
		case m := <-w:
			return m, nil
		default:
			return nil, ErrHangup
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-oc.done:
		select {
		case m := <-w:
			return m, nil
		default:
			return nil, oc.Err()
		}
	}
}

// GetVar returns a channel variable (the getvar command; "" if unset).
func (oc *OutboundConn) GetVar(ctx context.Context, name string) (string, error) {
	m, err := oc.Command(ctx, "getvar "+name)
	if err != nil {
		return "", err
	}
	v := m.ReplyText()
	if v == "_undef_" {
		v = ""
	}
	return v, nil
}

// Hangup asks FreeSWITCH to hang the channel up with cause (default
// NORMAL_CLEARING).
func (oc *OutboundConn) Hangup(ctx context.Context, cause string) error {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	if oc.isHungUp() {
		return ErrHangup
	}
	_, err := oc.Command(ctx, "sendmsg", "call-command", "hangup", "hangup-cause", cause)
	return err
}

// finish ends the connection after the handler: a lingering, hung-up
// channel gets "exit" (FreeSWITCH answers +OK bye and closes).
func (oc *OutboundConn) finish() {
	if oc.isHungUp() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := oc.Command(ctx, "exit"); err != nil && !errors.Is(err, ErrClosed) {
			oc.log.Debug("esl: exit after hangup", "err", err)
		}
		cancel()
	}
	_ = oc.Close()
}

// maxUUIDLen bounds the Unique-ID we accept: FreeSWITCH's are 36 bytes, an
// origination_uuid chosen by a dialer is rarely longer.
const maxUUIDLen = 255

// validateUUID checks the Unique-ID of a connect reply.
func validateUUID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: connect reply without Unique-ID", ErrUnexpectedMessage)
	case len(id) > maxUUIDLen:
		return fmt.Errorf("%w: Unique-ID of %d bytes", ErrUnexpectedMessage, len(id))
	}
	if err := ValidateValue(id); err != nil {
		return fmt.Errorf("%w: Unique-ID: %w", ErrUnexpectedMessage, err)
	}
	return nil
}

// truncate shortens a peer's value for a log line.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
