package amitest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// snapshotNames are the channel snapshot headers, in Asterisk's order.
var snapshotNames = []string{"Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
	"ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority",
	"Uniqueid", "Linkedid"}

// observe keeps a live channel's snapshot as the events about it say.
func (p *pbxState) observe(e *event) {
	name := getHeader(e.headers, "Channel")
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.channels[name]
	if ch == nil {
		return
	}
	if ch.snap == nil {
		ch.snap = map[string]string{}
	}
	for _, n := range snapshotNames {
		if v := getHeader(e.headers, n); v != "" || hasHeader(e.headers, n) {
			ch.snap[n] = v
		}
	}
	switch e.name {
	case "Newexten":
		ch.app, ch.appData = getHeader(e.headers, "Application"), getHeader(e.headers, "AppData")
	case "VarSet":
		ch.vars[getHeader(e.headers, "Variable")] = getHeader(e.headers, "Value")
	}
}

func (ch *channel) snapshot(prefix string) []Header {
	out := make([]Header, 0, len(snapshotNames))
	for _, n := range snapshotNames {
		out = append(out, Header{prefix + n, ch.snap[n]})
	}
	return out
}

// find returns the channel named name or whose Uniqueid is name.
func (p *pbxState) find(name string) *channel {
	if ch := p.channels[name]; ch != nil {
		return ch
	}
	for _, ch := range p.channels {
		if ch.uniqueid == name {
			return ch
		}
	}
	return nil
}

// ordered returns the live channels oldest first.
func (p *pbxState) ordered() []*channel {
	out := make([]*channel, 0, len(p.channels))
	for _, ch := range p.channels {
		out = append(out, ch)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].order < out[j-1].order; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func hms(d time.Duration) string {
	s := int(d.Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func init() {
	handlers["coreshowchannels"] = (*Server).coreShowChannels
	handlers["status"] = (*Server).status
	handlers["hangup"] = (*Server).hangupAction
	handlers["redirect"] = (*Server).redirect
	handlers["getvar"] = (*Server).getvar
	handlers["setvar"] = (*Server).setvar
	handlers["command"] = (*Server).command
	handlers["corestatus"] = (*Server).coreStatus
	handlers["park"] = (*Server).park
}

func (s *Server) coreShowChannels(c *session, id string, hs []Header) {
	p := s.state
	p.mu.Lock()
	var items [][]byte
	for _, ch := range p.ordered() {
		rest := append(ch.snapshot(""), Header{"Application", ch.app}, Header{"ApplicationData", ch.appData},
			Header{"Duration", hms(time.Since(ch.created))}, Header{"BridgeId", ""})
		items = append(items, listItem("CoreShowChannel", id, false, rest))
	}
	p.mu.Unlock()
	s.sendList(c, id, "Channels will follow", "CoreShowChannelsComplete", items, false)
}

func (s *Server) status(c *session, id string, hs []Header) {
	p := s.state
	want := getHeader(hs, "Channel")
	p.mu.Lock()
	var chans []*channel
	if want != "" {
		if ch := p.find(want); ch != nil {
			chans = append(chans, ch)
		} else {
			p.mu.Unlock()
			c.send(failure(id, "No such channel"))
			return
		}
	} else {
		chans = p.ordered()
	}
	var items [][]byte
	for _, ch := range chans {
		tech, _, _ := strings.Cut(ch.name, "/")
		hs := []Header{{"Event", "Status"}, {"Privilege", "Call"}}
		hs = append(hs, ch.snapshot("")...)
		hs = append(hs, []Header{{"Type", tech}, {"DNID", ""},
			{"EffectiveConnectedLineNum", ch.snap["ConnectedLineNum"]}, {"EffectiveConnectedLineName", ch.snap["ConnectedLineName"]},
			{"TimeToHangup", "0"}, {"BridgeID", ""}, {"Application", ch.app}, {"Data", ch.appData},
			{"Nativeformats", "(slin)"}, {"Readformat", "slin"}, {"Readtrans", ""}, {"Writeformat", "slin"},
			{"Writetrans", ""}, {"Callgroup", "0"}, {"Pickupgroup", "0"},
			{"Seconds", itoa(int(time.Since(ch.created).Seconds()))}}...)
		if id != "" {
			hs = append(hs, Header{"ActionID", id})
		}
		items = append(items, encode(hs))
	}
	p.mu.Unlock()
	s.sendList(c, id, "Channel status will follow", "StatusComplete", items, true)
}

var causeText = map[int]string{
	0: "Unknown", 16: "Normal Clearing", 17: "User busy", 18: "No user responding",
	19: "User alerting, no answer", 21: "Call Rejected", 34: "Circuit/channel congestion",
}

// hangupEvents are the events of a Hangup action on ch and its Local
// partner, in the captured order (30_*): SoftHangupRequest(ch),
// HangupRequest(partner), Hangup(ch), SoftHangupRequest(partner),
// Hangup(partner), then their Cdr events.
func (p *pbxState) hangupEvents(ch *channel, cause int) []*event {
	chans := []*channel{ch}
	if other := ch.partner(p); other != nil {
		chans = append(chans, other)
	}
	c := Header{"Cause", itoa(cause)}
	txt := Header{"Cause-txt", causeText[cause]}
	withCause := func(ch *channel, extra ...Header) []Header {
		return append(append(ch.snapshot(""), c), extra...)
	}
	var evs []*event
	evs = append(evs, newEvent("SoftHangupRequest", "call", withCause(chans[0])))
	if len(chans) == 2 {
		evs = append(evs, newEvent("HangupRequest", "call", withCause(chans[1])))
	}
	evs = append(evs, newEvent("Hangup", "call", withCause(chans[0], txt)))
	if len(chans) == 2 {
		evs = append(evs, newEvent("SoftHangupRequest", "call", withCause(chans[1])))
		evs = append(evs, newEvent("Hangup", "call", withCause(chans[1], txt)))
	}
	now := time.Now()
	for _, x := range chans {
		cl := x.call
		answer, disp, bill := "", "NO ANSWER", 0
		if cl != nil && !cl.answer.IsZero() {
			answer, disp, bill = cl.answer.Format(cdrTime), "ANSWERED", int(now.Sub(cl.answer).Seconds())
		}
		callerID, src := "", ""
		if cl != nil {
			callerID, src = cl.o.CallerID, cl.cidNum
		}
		evs = append(evs, newEvent("Cdr", "cdr", []Header{
			{"AccountCode", ""}, {"Source", src}, {"Destination", x.snap["Exten"]},
			{"DestinationContext", x.snap["Context"]}, {"CallerID", callerID}, {"Channel", x.name},
			{"DestinationChannel", ""}, {"LastApplication", x.app}, {"LastData", x.appData},
			{"StartTime", x.created.Format(cdrTime)}, {"AnswerTime", answer}, {"EndTime", now.Format(cdrTime)},
			{"Duration", itoa(int(now.Sub(x.created).Seconds()))}, {"BillableSeconds", itoa(bill)},
			{"Disposition", disp}, {"AMAFlags", "DOCUMENTATION"}, {"UniqueID", x.uniqueid}, {"UserField", ""}}))
	}
	for _, x := range chans {
		delete(p.channels, x.name)
	}
	return evs
}

// partner is the other half of a Local channel pair.
func (ch *channel) partner(p *pbxState) *channel {
	switch {
	case strings.HasSuffix(ch.name, ";1"):
		return p.channels[strings.TrimSuffix(ch.name, ";1")+";2"]
	case strings.HasSuffix(ch.name, ";2"):
		return p.channels[strings.TrimSuffix(ch.name, ";2")+";1"]
	}
	return nil
}

// HangupChannel hangs up a channel (by name or Uniqueid) as the Hangup
// action does, e.g. the far end of a held call; it reports whether the
// channel existed.
func (s *Server) HangupChannel(name string, cause int) bool {
	p := s.state
	p.mu.Lock()
	ch := p.find(name)
	if ch != nil && ch.call == nil && ch.app == "Queue" {
		// a waiting caller hangs up: it abandons the queue first
		queue, uid := ch.appData, ch.uniqueid
		p.mu.Unlock()
		_ = s.AbandonQueue(queue, uid)
		p.mu.Lock()
		p.channels[ch.name] = ch
	}
	if ch == nil {
		p.mu.Unlock()
		return false
	}
	evs := p.hangupEvents(ch, cause)
	cl := ch.call
	p.mu.Unlock()
	if cl != nil {
		cl.hangup(cause)
	}
	for _, e := range evs {
		s.broadcast(e)
	}
	return true
}

func (s *Server) hangupAction(c *session, id string, hs []Header) {
	name := getHeader(hs, "Channel")
	if name == "" {
		c.send(failure(id, "No channel specified"))
		return
	}
	cause := 16
	if v := getHeader(hs, "Cause"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			cause = n
		}
	}
	if len(name) > 1 && strings.HasPrefix(name, "/") && strings.HasSuffix(name, "/") {
		s.hangupRegex(c, id, name[1:len(name)-1], cause)
		return
	}
	p := s.state
	p.mu.Lock()
	exists := p.find(name) != nil
	p.mu.Unlock()
	if !exists {
		c.send(failure(id, "No such channel"))
		return
	}
	c.send(success(id, "Channel Hungup"))
	s.HangupChannel(name, cause)
}

// hangupRegex is `Hangup Channel: /regex/`: a list of ChannelHungup items (62_*).
func (s *Server) hangupRegex(c *session, id, expr string, cause int) {
	re, err := regexp.Compile(expr)
	if err != nil {
		c.send(failure(id, "Invalid regex"))
		return
	}
	p := s.state
	p.mu.Lock()
	var names []string
	var items [][]byte
	for _, ch := range p.ordered() {
		if re.MatchString(ch.name) {
			names = append(names, ch.name)
			items = append(items, listItem("ChannelHungup", id, false, []Header{{"Channel", ch.name}}))
		}
	}
	p.mu.Unlock()
	s.sendList(c, id, "Channels hung up will follow", "ChannelsHungupListComplete", items, false)
	for _, n := range names {
		s.HangupChannel(n, cause)
	}
}

func (s *Server) redirect(c *session, id string, hs []Header) {
	name := getHeader(hs, "Channel")
	switch {
	case name == "":
		c.send(failure(id, "Channel not specified"))
		return
	case getHeader(hs, "Context") == "":
		c.send(failure(id, "Context not specified"))
		return
	case getHeader(hs, "Exten") == "":
		c.send(failure(id, "Exten not specified"))
		return
	}
	p := s.state
	p.mu.Lock()
	ch := p.find(name)
	if ch != nil {
		ch.snap["Context"], ch.snap["Exten"], ch.snap["Priority"] = getHeader(hs, "Context"), getHeader(hs, "Exten"), getHeader(hs, "Priority")
	}
	p.mu.Unlock()
	if ch == nil {
		c.send(failure(id, "Channel does not exist: "+name))
		return
	}
	c.send(success(id, "Redirect successful"))
}

// deviceFunc matches DEVICE_STATE(<device>).
var deviceFunc = regexp.MustCompile(`^(?i:DEVICE_STATE)\((.+)\)$`)

func (s *Server) getvar(c *session, id string, hs []Header) {
	name, chName := getHeader(hs, "Variable"), getHeader(hs, "Channel")
	p := s.state
	p.mu.Lock()
	var value string
	switch m := deviceFunc.FindStringSubmatch(name); {
	case chName != "":
		ch := p.find(chName)
		if ch == nil {
			p.mu.Unlock()
			c.send(failure(id, "No such channel"))
			return
		}
		value = ch.vars[name]
	case m != nil:
		value = p.deviceState(m[1])
	default:
		value = p.globals[name]
	}
	p.mu.Unlock()
	c.send(encode(response("Success", id, Header{"Variable", name}, Header{"Value", value})))
}

func (s *Server) setvar(c *session, id string, hs []Header) {
	name, chName, value := getHeader(hs, "Variable"), getHeader(hs, "Channel"), getHeader(hs, "Value")
	if name == "" {
		c.send(failure(id, "No variable specified"))
		return
	}
	if m := deviceFunc.FindStringSubmatch(name); m != nil && chName == "" {
		st := strings.ToUpper(strings.TrimSpace(value))
		if !validDeviceStates[st] {
			c.send(failure(id, "Variable not set"))
			return
		}
		// the reply comes first, then the events (60_*, 61_*)
		c.send(success(id, "Variable Set"))
		s.SetDeviceState(m[1], st)
		return
	}
	p := s.state
	p.mu.Lock()
	if chName != "" {
		ch := p.find(chName)
		if ch == nil {
			p.mu.Unlock()
			c.send(failure(id, "No such channel"))
			return
		}
		ch.vars[name] = value
	} else {
		p.globals[name] = value
	}
	p.mu.Unlock()
	c.send(success(id, "Variable Set"))
}

func (s *Server) command(c *session, id string, hs []Header) {
	cmd := strings.Join(strings.Fields(getHeader(hs, "Command")), " ")
	var out []string
	p := s.state
	switch strings.ToLower(cmd) {
	case "core show version":
		out = []string{"Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-23 13:13:16 UTC"}
	case "core show channels concise":
		p.mu.Lock()
		for _, ch := range p.ordered() {
			out = append(out, strings.Join([]string{ch.name, ch.snap["Context"], ch.snap["Exten"], ch.snap["Priority"],
				ch.snap["ChannelStateDesc"], ch.app, ch.appData, ch.snap["CallerIDNum"], "", "", "3",
				itoa(int(time.Since(ch.created).Seconds())), "", ch.uniqueid}, "!"))
		}
		p.mu.Unlock()
	case "core show hints":
		p.mu.Lock()
		out = append(out, "", "    -= Registered Asterisk Dial Plan Hints =-")
		for _, h := range p.hints {
			out = append(out, fmt.Sprintf("%-30s: %-61s State:%-14s Presence:%-16s Watchers  0",
				h.Exten+"@"+h.Context, h.Hint, extStateText[p.hintStatus(h)], "not_set"))
		}
		out = append(out, "----------------", fmt.Sprintf("- %d hints registered", len(p.hints)))
		p.mu.Unlock()
	default:
		words := strings.Fields(cmd)
		if len(words) > 2 {
			words = words[:2]
		}
		hs := response("Error", id, Header{"Message", "Command output follows"},
			Header{"Output", fmt.Sprintf("No such command '%s' (type 'core show help %s' for other possible commands)", cmd, strings.Join(words, " "))})
		c.send(encode(hs))
		return
	}
	rest := []Header{{"Message", "Command output follows"}}
	for _, l := range out {
		rest = append(rest, Header{"Output", l})
	}
	c.send(encode(response("Success", id, rest...)))
}

func (s *Server) coreStatus(c *session, id string, hs []Header) {
	boot := s.bootTime()
	p := s.state
	p.mu.Lock()
	n := len(p.channels)
	processed := p.seq
	p.mu.Unlock()
	c.send(encode(response("Success", id,
		Header{"CoreStartupDate", boot.Format("2006-01-02")}, Header{"CoreStartupTime", boot.Format("15:04:05")},
		Header{"CoreReloadDate", boot.Format("2006-01-02")}, Header{"CoreReloadTime", boot.Format("15:04:05")},
		Header{"CoreCurrentCalls", itoa(n / 2)}, Header{"CoreProcessedCalls", itoa(processed)})))
}

// park is the Park action (64_*): the replies, with their bare-LF quirk,
// and a ParkedCall event; the parked call then stays until hung up.
func (s *Server) park(c *session, id string, hs []Header) {
	name := getHeader(hs, "Channel")
	if name == "" {
		c.send(failure(id, "Channel not specified"))
		return
	}
	timeout := 45 * time.Second
	if v := getHeader(hs, "Timeout"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			c.send(failure(id, "Invalid Timeout value."))
			return
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	p := s.state
	p.mu.Lock()
	ch := p.find(name)
	if ch == nil {
		p.mu.Unlock()
		c.send(failure(id, "Channel does not exist: "+name))
		return
	}
	if lot := getHeader(hs, "Parkinglot"); lot != "" && lot != "default" {
		p.mu.Unlock()
		c.send(bareLFMessage("Error", id, "Park action failed"))
		return
	}
	space := getHeader(hs, "ParkingSpace")
	if space == "" {
		p.parkNext++
		space = itoa(700 + p.parkNext)
	}
	dial := ch.name
	if cl := ch.call; cl != nil {
		dial = cl.o.Channel
	}
	ev := newEvent("ParkedCall", "call", append(ch.snapshot("Parkee"),
		Header{"ParkerDialString", dial}, Header{"Parkinglot", "default"}, Header{"ParkingSpace", space},
		Header{"ParkingTimeout", itoa(int(timeout.Seconds()))}, Header{"ParkingDuration", "0"}))
	p.mu.Unlock()
	c.send(bareLFMessage("Success", id, "Park successful"))
	s.broadcast(ev)
}
