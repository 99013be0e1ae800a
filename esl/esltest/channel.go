package esltest

import (
	"strconv"
	"sync/atomic"
	"time"
)

// switchInfo is what every event of one fake FreeSWITCH shares: its core
// identity and the global Event-Sequence counter.
type switchInfo struct {
	coreUUID string
	started  time.Time
	seq      atomic.Uint64
	dates    atomic.Pointer[eventDates] // of the last second an event was made in
}

// eventDates are an event's Event-Date-Local and Event-Date-GMT for one
// second: formatting them for each of a call's events was a tenth of what
// encoding an event cost.
type eventDates struct {
	unix       int64
	local, gmt string
}

// datesAt returns the formatted dates of now's second.
func (si *switchInfo) datesAt(now time.Time) *eventDates {
	sec := now.Unix()
	if d := si.dates.Load(); d != nil && d.unix == sec {
		return d
	}
	d := &eventDates{unix: sec, local: now.Format("2006-01-02 15:04:05"), gmt: now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")}
	si.dates.Store(d)
	return d
}

func newSwitchInfo() *switchInfo {
	si := &switchInfo{coreUUID: newUUID(), started: time.Now()}
	si.seq.Store(840) // the captures start around here; any value works
	return si
}

// eventHeader builds the common head of every event, in capture order.
func (si *switchInfo) eventHeader(name, file, function string, line int) headerList {
	l := make(headerList, 0, 16)
	si.writeEventHeader(&l, name, callSite{file, function, line})
	return l
}

// writeEventHeader writes the common head of every event to w, in capture
// order.
func (si *switchInfo) writeEventHeader(w headerSink, name string, site callSite) {
	now := time.Now()
	w.add("Event-Name", name)
	w.add("Core-UUID", si.coreUUID)
	w.add("FreeSWITCH-Hostname", "esltest")
	w.add("FreeSWITCH-Switchname", "esltest")
	w.add("FreeSWITCH-IPv4", "127.0.0.1")
	w.add("FreeSWITCH-IPv6", "::1")
	dates := si.datesAt(now)
	w.add("Event-Date-Local", dates.local)
	w.add("Event-Date-GMT", dates.gmt)
	w.addInt("Event-Date-Timestamp", now.UnixMicro())
	w.add("Event-Calling-File", site.file)
	w.add("Event-Calling-Function", site.function)
	w.addInt("Event-Calling-Line-Number", int64(site.line))
	w.addInt("Event-Sequence", int64(si.seq.Add(1)))
}

// uptimeSeconds is the body of `api uptime`.
func (si *switchInfo) uptimeSeconds() string {
	return strconv.Itoa(int(time.Since(si.started).Seconds())) + "\n"
}

const versionBody = "FreeSWITCH Version 1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit (git a88d069 2024-08-02 21:02:27Z 64bit)\n"

func (si *switchInfo) statusBody(sessions int) string {
	up := time.Since(si.started)
	return "UP 0 years, 0 days, " + strconv.Itoa(int(up.Hours())) + " hours, " +
		strconv.Itoa(int(up.Minutes())%60) + " minutes, " + strconv.Itoa(int(up.Seconds())%60) + " seconds, " +
		strconv.Itoa(int(up.Milliseconds())%1000) + " milliseconds, 0 microseconds\n" +
		"FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n" +
		strconv.Itoa(sessions) + " session(s) since startup\n" +
		strconv.Itoa(sessions) + " session(s) - peak 0, last 5min 0 \n" +
		"0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n" +
		"3000 session(s) max\nmin idle cpu 0.00/98.40\nCurrent Stack Size/Max 240K/8192K\n"
}

// Where FreeSWITCH 1.10.12 fires each event (Event-Calling-* headers).
type callSite struct {
	file, function string
	line           int
}

var (
	siteData       = callSite{"mod_event_socket.c", "parse_command", 2021}
	sitePark       = callSite{"switch_ivr.c", "switch_ivr_park", 1002}
	siteUnpark     = callSite{"switch_ivr.c", "switch_ivr_park", 1213}
	siteExecute    = callSite{"switch_core_session.c", "switch_core_session_exec", 2944}
	siteComplete   = callSite{"switch_core_session.c", "switch_core_session_exec", 2967}
	siteAnswer     = callSite{"switch_channel.c", "switch_channel_perform_mark_answered", 3846}
	siteDTMF       = callSite{"switch_channel.c", "switch_channel_dequeue_dtmf", 677}
	siteHangup     = callSite{"switch_channel.c", "switch_channel_perform_hangup", 3445}
	siteState      = callSite{"switch_channel.c", "switch_channel_perform_set_running_state", 2408}
	siteHangupDone = callSite{"switch_core_state_machine.c", "switch_core_session_reporting_state", 943}
	siteCreate     = callSite{"switch_core_state_machine.c", "switch_core_session_run", 626}
	siteJob        = callSite{"mod_event_socket.c", "api_exec", 1572}
	siteBridge     = callSite{"switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1705}
	siteUnbridge   = callSite{"switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1824}
	siteCustomFifo = callSite{"mod_fifo.c", "fifo_function", 2612}
)

// hasVariables reports whether FreeSWITCH adds channel variables to an event
// of that name (DTMF and CHANNEL_STATE carry none in the captures).
func hasVariables(name string) bool { return name != "DTMF" && name != "CHANNEL_STATE" }

// channel is the fake's model of one FreeSWITCH channel: its profile, state
// and ordered variables, rendered into events the way switch_channel does.
type channel struct {
	si          *switchInfo
	uuid        string
	name        string
	direction   string // inbound | outbound
	callerNum   string
	callerName  string
	dest        string
	source      string
	context     string
	hitDialplan bool

	state       string // CS_*
	callState   string // RINGING | ACTIVE | HANGUP | DOWN
	stateNum    string
	answerState string // ringing | answered | hangup
	hangupCause string

	created, answered, hungup time.Time
	vars                      varList
	digits                    string
}

// varList is a channel's variables, a headerList with FreeSWITCH's
// semantics, and a version that changes with every change: the session
// copies them for Call.Variables only when they changed.
type varList struct {
	list    headerList
	version uint64
}

func (v *varList) add(name, value string) { v.list.add(name, value); v.version++ }
func (v *varList) set(name, value string) { v.list.set(name, value); v.version++ }
func (v *varList) del(name string)        { v.list.del(name); v.version++ }

func (v *varList) get(name string) (string, bool) { return v.list.get(name) }

func micros(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

func microsInt(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// profile is the caller profile block (switch_caller_profile_event_set_data);
// empty fields are skipped like FreeSWITCH does. prefix is "Caller-" or
// "Channel-".
func (c *channel) profile(prefix string, w headerSink) {
	add := func(k, v string) {
		if v != "" {
			w.addPrefixed(prefix, k, v)
		}
	}
	add("Direction", c.direction)
	add("Logical-Direction", c.direction)
	add("Dialplan", "xml")
	add("Caller-ID-Name", c.callerName)
	add("Caller-ID-Number", c.callerNum)
	add("Orig-Caller-ID-Name", c.callerName)
	add("Orig-Caller-ID-Number", c.callerNum)
	add("Callee-ID-Name", "Outbound Call")
	add("Callee-ID-Number", c.dest)
	add("ANI", c.callerNum)
	add("Destination-Number", c.dest)
	add("Unique-ID", c.uuid)
	add("Source", c.source)
	add("Context", c.context)
	add("Channel-Name", c.name)
	add("Profile-Index", "1")
	w.addIntPrefixed(prefix, "Profile-Created-Time", microsInt(c.created))
	w.addIntPrefixed(prefix, "Channel-Created-Time", microsInt(c.created))
	w.addIntPrefixed(prefix, "Channel-Answered-Time", microsInt(c.answered))
	add("Channel-Progress-Time", "0")
	add("Channel-Progress-Media-Time", "0")
	w.addIntPrefixed(prefix, "Channel-Hangup-Time", microsInt(c.hungup))
	add("Channel-Transfer-Time", "0")
	add("Channel-Resurrect-Time", "0")
	add("Channel-Bridged-Time", "0")
	add("Channel-Last-Hold", "0")
	add("Channel-Hold-Accum", "0")
	add("Screen-Bit", "true")
	add("Privacy-Hide-Name", "false")
	add("Privacy-Hide-Number", "false")
}

// channelBlock is switch_channel_event_set_basic_data + the caller profile.
func (c *channel) channelBlock(w headerSink) {
	w.add("Channel-State", c.state)
	w.add("Channel-Call-State", c.callState)
	w.add("Channel-State-Number", c.stateNum)
	w.add("Channel-Name", c.name)
	w.add("Unique-ID", c.uuid)
	w.add("Call-Direction", c.direction)
	w.add("Presence-Call-Direction", c.direction)
	w.add("Channel-HIT-Dialplan", strconv.FormatBool(c.hitDialplan))
	w.add("Channel-Call-UUID", c.uuid)
	w.add("Answer-State", c.answerState)
	if c.hangupCause != "" {
		w.add("Hangup-Cause", c.hangupCause)
	}
	w.add("Channel-Read-Codec-Name", "L16")
	w.add("Channel-Read-Codec-Rate", "8000")
	w.add("Channel-Read-Codec-Bit-Rate", "128000")
	w.add("Channel-Write-Codec-Name", "L16")
	w.add("Channel-Write-Codec-Rate", "8000")
	w.add("Channel-Write-Codec-Bit-Rate", "128000")
	c.profile("Caller-", w)
}

func (c *channel) addVariables(w headerSink) {
	for _, v := range c.vars.list {
		w.addPrefixed("variable_", v.name, v.value)
	}
}

// writeEvent writes a channel event's headers; extra headers go after the
// variables (Application*, DTMF-* ...).
func (c *channel) writeEvent(w headerSink, name string, site callSite, extra []header) {
	c.si.writeEventHeader(w, name, site)
	if name == "CHANNEL_HANGUP_COMPLETE" {
		w.add("Hangup-Cause", c.hangupCause)
	}
	c.channelBlock(w)
	if hasVariables(name) {
		c.addVariables(w)
	}
	for _, h := range extra {
		w.add(h.name, h.value)
	}
}

// event renders a channel event as a header list; extra headers go after
// the variables (Application*, DTMF-* ...).
func (c *channel) event(name string, site callSite, extra ...header) *eventMsg {
	l := make(headerList, 0, 64+len(c.vars.list)+len(extra))
	c.writeEvent(&l, name, site, extra)
	return &eventMsg{headers: l}
}

// appendPlainEvent appends the channel event as a text/event-plain
// message, byte for byte what encodePlain makes of event(name, site,
// extra...), without the header list.
func (c *channel) appendPlainEvent(dst []byte, name string, site callSite, extra []header) []byte {
	dst, start := beginPlainFrame(dst)
	enc := plainEncoder{b: dst}
	c.writeEvent(&enc, name, site, extra)
	enc.b = append(enc.b, '\n')
	return endPlainFrame(enc.b, start)
}

// channelData renders the header block of the outbound `connect` reply: a
// serialized CHANNEL_DATA event with the command/reply headers at the END.
func (c *channel) channelData(socketMode string) []byte {
	return c.appendChannelData(make([]byte, 0, 4096), socketMode)
}

func (c *channel) appendChannelData(dst []byte, socketMode string) []byte {
	enc := plainEncoder{b: dst}
	c.si.writeEventHeader(&enc, "CHANNEL_DATA", siteData)
	c.profile("Channel-", &enc)
	c.channelBlock(&enc)
	c.addVariables(&enc)
	enc.add("Content-Type", "command/reply")
	enc.add("Reply-Text", "+OK\n")
	enc.add("Socket-Mode", socketMode)
	enc.add("Control", "full")
	return append(enc.b, '\n')
}

// markAnswered moves the channel to answered.
func (c *channel) markAnswered() {
	if c.answerState == "answered" {
		return
	}
	c.answered = time.Now()
	c.answerState = "answered"
	c.callState = "ACTIVE"
}

// q850 maps the common hangup causes to their Q.850 codes.
var q850 = map[string]int{
	"UNALLOCATED_NUMBER": 1, "NO_ROUTE_DESTINATION": 3, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
	"NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
	"DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "NORMAL_TEMPORARY_FAILURE": 41,
	"RECOVERY_ON_TIMER_EXPIRE": 102, "ORIGINATOR_CANCEL": 487, "USER_NOT_REGISTERED": 606,
}

// setCDRVariables sets what the reporting state adds before
// CHANNEL_HANGUP_COMPLETE (names and order from the captures).
func (c *channel) setCDRVariables(lastApp, lastArg string) {
	end := c.hungup
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02 15:04:05")
	}
	epoch := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	dur := end.Sub(c.created)
	var bill time.Duration
	var answerDelay time.Duration
	if !c.answered.IsZero() {
		bill = end.Sub(c.answered)
		answerDelay = c.answered.Sub(c.created)
	}
	c.vars.set("hangup_cause", c.hangupCause)
	c.vars.set("hangup_cause_q850", strconv.Itoa(q850[c.hangupCause]))
	digits := c.digits
	if digits == "" {
		digits = "none"
	}
	c.vars.set("digits_dialed", digits)
	c.vars.set("start_stamp", stamp(c.created))
	c.vars.set("profile_start_stamp", stamp(c.created))
	if !c.answered.IsZero() {
		c.vars.set("answer_stamp", stamp(c.answered))
	}
	c.vars.set("end_stamp", stamp(end))
	c.vars.set("start_epoch", epoch(c.created))
	c.vars.set("start_uepoch", micros(c.created))
	c.vars.set("profile_start_epoch", epoch(c.created))
	c.vars.set("profile_start_uepoch", micros(c.created))
	c.vars.set("answer_epoch", epoch(c.answered))
	c.vars.set("answer_uepoch", micros(c.answered))
	for _, k := range []string{"bridge_epoch", "bridge_uepoch", "last_hold_epoch", "last_hold_uepoch",
		"hold_accum_seconds", "hold_accum_usec", "hold_accum_ms", "resurrect_epoch", "resurrect_uepoch",
		"progress_epoch", "progress_uepoch", "progress_media_epoch", "progress_media_uepoch"} {
		c.vars.set(k, "0")
	}
	c.vars.set("end_epoch", epoch(end))
	c.vars.set("end_uepoch", micros(end))
	if lastApp != "" {
		c.vars.set("last_app", lastApp)
		if lastArg != "" {
			c.vars.set("last_arg", lastArg)
		}
	}
	c.vars.set("caller_id", c.callerNum)
	s := func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	us := func(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
	c.vars.set("duration", s(dur))
	c.vars.set("billsec", s(bill))
	c.vars.set("progresssec", "0")
	c.vars.set("answersec", s(answerDelay))
	c.vars.set("waitsec", "0")
	c.vars.set("progress_mediasec", "0")
	c.vars.set("flow_billsec", s(dur))
	c.vars.set("mduration", ms(dur))
	c.vars.set("billmsec", ms(bill))
	c.vars.set("progressmsec", "0")
	c.vars.set("answermsec", ms(answerDelay))
	c.vars.set("waitmsec", "0")
	c.vars.set("progress_mediamsec", "0")
	c.vars.set("flow_billmsec", ms(dur))
	c.vars.set("uduration", us(dur))
	c.vars.set("billusec", us(bill))
	c.vars.set("progressusec", "0")
	c.vars.set("answerusec", us(answerDelay))
	c.vars.set("waitusec", "0")
	c.vars.set("progress_mediausec", "0")
	c.vars.set("flow_billusec", us(dur))
	if _, ok := c.vars.get("loopback_leg"); ok {
		c.vars.set("is_loopback", "1")
	}
}

// startHangup moves the channel into the state its CHANNEL_HANGUP event
// reports, for the outbound session and the inbound server alike.
func (ch *channel) startHangup(cause string) {
	ch.hangupCause = cause
	ch.answerState = "hangup"
	ch.stateNum = "10"
}
