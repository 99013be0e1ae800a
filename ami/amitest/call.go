package amitest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// parseOriginate reads an Originate action's headers.
func parseOriginate(session int, hs []Header) Originate {
	o := Originate{
		Session:        session,
		ActionID:       getHeader(hs, "ActionID"),
		Channel:        getHeader(hs, "Channel"),
		Context:        getHeader(hs, "Context"),
		Exten:          getHeader(hs, "Exten"),
		Priority:       getHeader(hs, "Priority"),
		Application:    getHeader(hs, "Application"),
		Data:           getHeader(hs, "Data"),
		CallerID:       getHeader(hs, "CallerID"),
		ChannelID:      getHeader(hs, "ChannelId"),
		OtherChannelID: getHeader(hs, "OtherChannelId"),
		Variables:      allHeaders(hs, "Variable"),
	}
	if ms, err := strconv.Atoi(getHeader(hs, "Timeout")); err == nil && ms > 0 {
		o.Timeout = time.Duration(ms) * time.Millisecond
	}
	switch strings.ToLower(getHeader(hs, "Async")) {
	case "true", "yes", "1", "on", "y", "t":
		o.Async = true
	}
	return o
}

func (s *Server) originateAction(c *session, id string, hs []Header) {
	o := parseOriginate(c.id, hs)
	if o.Channel == "" {
		c.send(failure(id, "Channel not specified"))
		return
	}
	out := s.cfg.Outcome(o)
	if out.Kind == ExtensionMissing {
		c.send(failure(id, "Extension does not exist."))
		return
	}
	sc, err := scenarioFor(out, o.Application != "")
	if err != nil {
		s.log.Error("amitest: originate", "err", err)
		c.send(failure(id, "Originate failed"))
		return
	}
	if out.Order == nil && s.cfg.RandomOrder {
		if obs := Orders(out.Kind); len(obs) > 0 {
			s.mu.Lock()
			if s.rng == nil {
				seed := uint64(s.cfg.Seed)
				s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
			}
			out.Order = obs[s.rng.IntN(len(obs))]
			s.mu.Unlock()
		}
	}
	call := s.state.newCall(o, out)
	s.mu.Lock()
	s.inflight++
	if s.inflight > s.peak {
		s.peak = s.inflight
	}
	s.mu.Unlock()
	if o.Async {
		c.send(success(id, "Originate successfully queued"))
		s.wg.Add(1)
		go s.runCall(call, sc, nil)
		return
	}
	// A synchronous Originate holds the session: no other action is read
	// and every event is held back until the reply (21_*).
	c.hold()
	done := make(chan struct{})
	s.wg.Add(1)
	go s.runCall(call, sc, func(ok bool) {
		if ok {
			c.release(success(id, "Originate successfully queued"))
		} else {
			c.release(failure(id, "Originate failed"))
		}
		close(done)
	})
	select {
	case <-done:
	case <-s.ctx.Done():
	}
}

// call is one originated call in progress.
type call struct {
	o                     Originate
	out                   Outcome
	vars                  map[string]string
	uid1, uid2, uidf      string
	chan1, chan2          string
	start, answer         time.Time
	hungup                chan struct{} // closed by a Hangup action (Hold) or a restart
	hangupCause           int
	hangupOnce            sync.Once
	spool                 bool   // a call file's call: no OriginateResponse
	farCause, farCauseTxt string // the ;2 Hangup cause of the scenario
	single                bool   // not a Local channel: one channel, no ;2 (see withoutLocalPair)
	chanVars              []string
	varState              map[string]map[string]string // channel -> variable (underscores stripped) -> value
	callid                string
	cidNum                string // an immutable copy for other goroutines: cl.vars is the call's own
	varNames, varsValues  []string
}

// withoutLocalPair turns a Local ;1/;2 event stream into the stream of one
// channel (a PJSIP/SIP/... dial string): the ;2 events and LocalBridge go,
// and the channel's Hangup gets the cause Asterisk put on ;2, where the
// far end's real cause is (17 busy, 19 no answer, 34 congestion, 21).
func (cl *call) withoutLocalPair(evs []*event) []*event {
	out := evs[:0]
	for _, e := range evs {
		ch := getHeader(e.headers, "Channel")
		if e.name == "DialBegin" || e.name == "DialEnd" {
			ch = getHeader(e.headers, "DestChannel")
		}
		if ch == cl.chan2 || e.name == "LocalBridge" {
			continue
		}
		if e.name == "Hangup" && ch == cl.chan1 && cl.farCause != "" {
			hs := append([]Header(nil), e.headers...)
			for i := range hs {
				switch hs[i].Name {
				case "Cause":
					hs[i].Value = cl.farCause
				case "Cause-txt":
					hs[i].Value = cl.farCauseTxt
				}
			}
			e = &event{name: e.name, class: e.class, headers: hs, raw: encode(hs)}
		}
		out = append(out, e)
	}
	return out
}

// render expands one template message for this call.
func (cl *call) render(hs []Header, varName, varValue string) []Header {
	out := make([]Header, len(hs))
	for i, h := range hs {
		v := h.Value
		if strings.Contains(v, "${") {
			v = cl.expand(v, varName, varValue)
		}
		out[i] = Header{h.Name, v}
	}
	return out
}

func (cl *call) expand(v, varName, varValue string) string {
	var b strings.Builder
	for {
		i := strings.Index(v, "${")
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		j := strings.IndexByte(v[i:], '}')
		if j < 0 {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:i])
		key := v[i+2 : i+j]
		switch key {
		case "VARNAME":
			b.WriteString(varName)
		case "VARVALUE":
			b.WriteString(varValue)
		default:
			b.WriteString(cl.vars[key])
		}
		v = v[i+j+1:]
	}
}

const cdrTime = "2006-01-02 15:04:05"

// events builds the concrete events of one phase of the scenario.
func (cl *call) phaseEvents(items []item) []*event {
	now := time.Now()
	cl.vars["EVENTTV"] = now.UTC().Format("2006-01-02T15:04:05.000+0000")
	cl.vars["STARTTIME"] = cl.start.Format(cdrTime)
	if !cl.answer.IsZero() {
		cl.vars["ANSWERTIME"] = cl.answer.Format(cdrTime)
		cl.vars["BILLABLESECONDS"] = itoa(int(now.Sub(cl.answer).Seconds()))
	} else {
		cl.vars["ANSWERTIME"] = ""
		cl.vars["BILLABLESECONDS"] = "0"
	}
	cl.vars["ENDTIME"] = now.Format(cdrTime)
	cl.vars["DURATION"] = itoa(int(now.Sub(cl.start).Seconds()))
	var evs []*event
	for _, it := range items {
		if it.vars != "" {
			for i := range cl.varNames {
				name, value := cl.varNames[i], cl.varsValues[i]
				if it.vars == "CHAN2" {
					// ;2 gets each variable once, without the inheritance
					// underscores (10_*, 13_*).
					name = strings.TrimLeft(name, "_")
					dup := false
					for _, e := range evs {
						if e.name == "VarSet" && getHeader(e.headers, "Channel") == cl.chan2 && getHeader(e.headers, "Variable") == name {
							dup = true
						}
					}
					if dup {
						continue
					}
				}
				evs = append(evs, cl.eventFrom(cl.render(it.headers, name, value)))
			}
			continue
		}
		hs := cl.render(it.headers, "", "")
		if getHeader(hs, "Event") == "OriginateResponse" && cl.o.Application != "" {
			for i := range hs {
				switch hs[i].Name {
				case "Context":
					hs[i] = Header{"Application", cl.o.Application}
				case "Exten":
					hs[i] = Header{"Data", cl.o.Data}
				}
			}
		}
		evs = append(evs, cl.eventFrom(hs))
	}
	return evs
}

func (cl *call) eventFrom(hs []Header) *event {
	if len(cl.chanVars) > 0 {
		hs = cl.withChanVars(hs)
	}
	name := getHeader(hs, "Event")
	class, _, _ := strings.Cut(getHeader(hs, "Privilege"), ",")
	return &event{name: name, class: class, headers: hs, raw: encode(hs)}
}

// label is the event's name in the 50_* summary's orderings, or "".
func (cl *call) label(e *event) string {
	ch := getHeader(e.headers, "Channel")
	if e.name == "DialEnd" {
		ch = getHeader(e.headers, "DestChannel")
	}
	switch e.name {
	case "OriginateResponse":
		return "OriginateResponse"
	case "UserEvent":
		if ch == "OutgoingSpoolFailed" {
			return "UserEvent(failed-exten)"
		}
	case "Newchannel", "DialEnd", "HangupRequest", "Cdr", "Hangup":
		switch ch {
		case cl.chan1:
			return e.name + "(;1)"
		case cl.chan2:
			return e.name + "(;2)"
		}
	}
	return ""
}

// reorder applies the call's Order to one phase: each labelled event moves
// with the unlabelled events that follow it in the capture; the failed
// extension's channel moves as one block with its UserEvent.
func (cl *call) reorder(evs []*event) []*event {
	if cl.out.Order == nil {
		return evs
	}
	type segment struct {
		label string
		evs   []*event
	}
	var prefix []*event
	var segs []*segment
	byLabel := map[string]*segment{}
	var failed []*event
	var cur *segment
	for _, e := range evs {
		if getHeader(e.headers, "Channel") == "OutgoingSpoolFailed" && e.name != "Cdr" {
			failed = append(failed, e)
			continue
		}
		l := cl.label(e)
		if l != "" && byLabel[l] == nil {
			cur = &segment{label: l}
			byLabel[l] = cur
			segs = append(segs, cur)
		}
		if cur == nil {
			prefix = append(prefix, e)
		} else {
			cur.evs = append(cur.evs, e)
		}
	}
	if len(failed) > 0 {
		if sg := byLabel["UserEvent(failed-exten)"]; sg == nil {
			sg = &segment{label: "UserEvent(failed-exten)", evs: failed}
			byLabel[sg.label] = sg
			segs = append(segs, sg)
		}
	}
	out := append([]*event(nil), prefix...)
	used := map[string]bool{}
	for _, l := range cl.out.Order {
		if sg := byLabel[l]; sg != nil && !used[l] {
			used[l] = true
			out = append(out, sg.evs...)
		}
	}
	for _, sg := range segs {
		if !used[sg.label] {
			out = append(out, sg.evs...)
		}
	}
	return out
}

// runCall plays the scenario. reply, for a sync Originate, is called once
// at OriginateResponse's place instead of sending it.
func (s *Server) runCall(cl *call, sc scenario, reply func(ok bool)) {
	defer s.wg.Done()
	replied := false
	finish := func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}
	defer func() {
		if !replied {
			finish()
			if reply != nil {
				reply(false)
			} else if cl.hungupByAction() && s.ctx.Err() == nil && !cl.spool {
				// Hung up by a Hangup action before the answer. Not in the
				// captures: the fake reports Failure with Reason 1
				// (AST_CONTROL_HANGUP), the control frame that ends the dial.
				s.broadcast(newEvent("OriginateResponse", "call", cl.failureResponse(1)))
			}
		}
		s.state.endCall(cl)
	}()
	answered := cl.out.Kind == Answered
	stopped := func() bool {
		select {
		case <-cl.hungup:
			return true
		case <-s.ctx.Done():
			return true
		default:
			return false
		}
	}
	if sc.legs != "" {
		s.state.addLegs(cl, sc.legs)
	}
	if cl.single {
		for _, it := range sc.items {
			if getHeader(it.headers, "Event") == "Hangup" && getHeader(it.headers, "Channel") == "${CHAN2}" {
				cl.farCause, cl.farCauseTxt = getHeader(it.headers, "Cause"), getHeader(it.headers, "Cause-txt")
				break
			}
		}
	}
	var phase []item
	play := func() bool {
		evs := cl.reorder(cl.phaseEvents(phase))
		if cl.single {
			evs = cl.withoutLocalPair(evs)
		}
		phase = phase[:0]
		for _, e := range evs {
			if stopped() {
				return false
			}
			switch e.name {
			case "OriginateResponse":
				if !replied {
					replied = true
					finish()
					if reply != nil {
						reply(answered)
						continue
					}
				}
				if cl.spool {
					continue
				}
			case "Newchannel":
				s.state.addChannel(cl, getHeader(e.headers, "Channel"), getHeader(e.headers, "Uniqueid"))
			case "DialEnd":
				if getHeader(e.headers, "DialStatus") == "ANSWER" && cl.answer.IsZero() {
					// under the pbx lock: a Hangup action reads it for the Cdr
					s.state.mu.Lock()
					cl.answer = time.Now()
					s.state.mu.Unlock()
				}
			}
			s.state.observe(e)
			if e.name == "Hangup" {
				s.state.removeChannel(getHeader(e.headers, "Channel"))
			}
			s.broadcast(e)
		}
		return true
	}
	for _, it := range sc.items {
		if it.wait == "" {
			phase = append(phase, it)
			continue
		}
		if !play() {
			return
		}
		d := cl.out.Ring
		if it.wait == "talk" {
			d = cl.out.Talk
			if answered && cl.out.Hold {
				select {
				case <-cl.hungup:
				case <-s.ctx.Done():
				}
				return
			}
		} else if cl.out.Kind == NoAnswer && d == 0 {
			d = cl.o.Timeout
			if d == 0 {
				d = 30 * time.Second
			}
		}
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-cl.hungup:
				t.Stop()
				return
			case <-s.ctx.Done():
				t.Stop()
				return
			}
		}
	}
	play()
}

// failureResponse is an OriginateResponse Failure for this call (11_*).
func (cl *call) failureResponse(reason int) []Header {
	hs := []Header{{"ActionID", cl.o.ActionID}, {"Response", "Failure"}, {"Channel", cl.o.Channel}}
	if cl.o.Application != "" {
		hs = append(hs, Header{"Application", cl.o.Application}, Header{"Data", cl.o.Data})
	} else {
		hs = append(hs, Header{"Context", cl.o.Context}, Header{"Exten", cl.o.Exten})
	}
	uid := "<unknown>"
	if cl.o.ChannelID != "" {
		uid = cl.o.ChannelID
	}
	return append(hs, Header{"Reason", itoa(reason)}, Header{"Uniqueid", uid},
		Header{"CallerIDNum", cl.vars["CIDNUM"]}, Header{"CallerIDName", cl.vars["CIDNAME"]})
}

func fmtSeq(n int) string { return fmt.Sprintf("%08x", n) }

// hangup ends a held call (cause >= 0, a Hangup action) or aborts it
// (cause < 0, a restart). Only the first call counts.
func (cl *call) hangup(cause int) {
	cl.hangupOnce.Do(func() {
		cl.hangupCause = cause
		close(cl.hungup)
	})
}

// withChanVars adds the channelvars headers (22_*) after each channel
// snapshot of the event (prefixed like it: LocalOneChanVariable,
// DestChanVariable). A VarSet on ;1 already shows its own value, one on ;2
// does not yet: as captured.
func (cl *call) withChanVars(hs []Header) []Header {
	ev, ch := getHeader(hs, "Event"), getHeader(hs, "Channel")
	if cl.varState == nil {
		cl.varState = map[string]map[string]string{}
	}
	if ev == "OriginateResponse" {
		vals := cl.varState[cl.chan1]
		for _, n := range cl.chanVars {
			hs = append(hs, Header{"ChanVariable(" + cl.chan1 + ")", n + "=" + vals[n]})
		}
		return hs
	}
	set := func() {
		if ev == "VarSet" && (ch == cl.chan1 || ch == cl.chan2) {
			if cl.varState[ch] == nil {
				cl.varState[ch] = map[string]string{}
			}
			cl.varState[ch][strings.TrimLeft(getHeader(hs, "Variable"), "_")] = getHeader(hs, "Value")
		}
	}
	if ch == cl.chan1 {
		set()
	}
	out := make([]Header, 0, len(hs)+2*len(cl.chanVars))
	for _, h := range hs {
		out = append(out, h)
		prefix, ok := strings.CutSuffix(h.Name, "Linkedid")
		if !ok {
			continue
		}
		c := getHeader(hs, prefix+"Channel")
		if c != cl.chan1 && c != cl.chan2 {
			continue
		}
		vals := cl.varState[c]
		for _, n := range cl.chanVars {
			out = append(out, Header{prefix + "ChanVariable", n + "=" + vals[n]})
		}
	}
	if ch == cl.chan2 {
		set()
	}
	return out
}

// hungupByAction reports whether a Hangup action (not a restart) ended the
// call; hangupCause is read only once hungup is closed, which orders it.
func (cl *call) hungupByAction() bool {
	select {
	case <-cl.hungup:
		return cl.hangupCause >= 0
	default:
		return false
	}
}
