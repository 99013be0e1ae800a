package esltest

import (
	"fmt"
	"strings"
	"time"
)

// dialStatus maps a hangup cause to the DIALSTATUS value.
func dialStatus(cause string) string {
	switch cause {
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER", "NO_USER_RESPONSE":
		return "NOANSWER"
	}
	return cause
}

func (s *session) bridge(req execReq) {
	out := BridgeOutcome{Cause: "NO_ANSWER"}
	if s.bridgeIdx < len(s.script.Bridges) {
		out = s.script.Bridges[s.bridgeIdx]
	}
	s.bridgeIdx++
	if user, ok := strings.CutPrefix(req.arg, "user/"); ok {
		u, domain, _ := strings.Cut(user, "@")
		if domain == "" {
			domain = "127.0.0.1"
		}
		s.ch.vars.set("dialed_user", u)
		s.ch.vars.set("dialed_domain", domain)
	}
	if !out.Answer {
		cause := out.Cause
		if cause == "" {
			cause = "NO_ANSWER"
		}
		s.ch.vars.set("originate_disposition", cause)
		s.ch.vars.set("DIALSTATUS", dialStatus(cause))
		s.ch.vars.set("originate_failed_cause", cause)
		s.complete("")
		return
	}
	other := newUUID()
	s.ch.vars.set("originate_disposition", "SUCCESS")
	s.ch.vars.set("DIALSTATUS", "SUCCESS")
	s.ch.vars.set("bridge_to", other)
	s.ch.vars.set("last_bridge_to", other)
	s.emit(s.ch.event("CHANNEL_BRIDGE", siteBridge,
		header{"Bridge-A-Unique-ID", s.ch.uuid}, header{"Bridge-B-Unique-ID", other}, header{"Other-Leg-Unique-ID", other}))
	s.after(out.TalkTime, func() {
		s.ch.vars.set("bridge_hangup_cause", "NORMAL_CLEARING")
		s.ch.vars.set("last_bridge_hangup_cause", "NORMAL_CLEARING")
		s.emit(s.ch.event("CHANNEL_UNBRIDGE", siteUnbridge,
			header{"Bridge-A-Unique-ID", s.ch.uuid}, header{"Bridge-B-Unique-ID", other}, header{"Other-Leg-Unique-ID", other}))
		if v, _ := s.ch.vars.get("hangup_after_bridge"); v == "true" {
			s.teardown("NORMAL_CLEARING")
			return
		}
		s.complete("")
	})
}

// transfer completes the transfer and the socket app (the socket app ends,
// the connection stays and keeps getting this channel's events), then plays
// the part of the dialplan the fake knows (park, fifo_*).
func (s *session) transfer(req execReq) {
	dest := strings.Fields(req.arg + " ")
	target := ""
	if len(dest) > 0 {
		target = dest[0]
	}
	hist := fmt.Sprintf("%d:%s:bl_xfer:%s/default/XML", time.Now().Unix(), newUUID(), target)
	s.ch.vars.set("max_forwards", "70")
	s.ch.vars.set("transfer_history", hist)
	s.ch.vars.set("transfer_source", hist)
	s.complete("")
	s.cur.abort = nil
	s.queue = nil
	s.transferred = true
	s.emit(s.ch.event("CHANNEL_UNPARK", siteUnpark))
	s.emit(s.socketComplete())
	s.ch.state, s.ch.stateNum = "CS_ROUTING", "2"
	s.emit(s.ch.event("CHANNEL_STATE", siteState))
	s.ch.state, s.ch.stateNum = "CS_EXECUTE", "4"
	s.emit(s.ch.event("CHANNEL_STATE", siteState))
	s.ch.dest = target
	switch {
	case target == "park":
		s.dialplanExecute(execReq{app: "park", eventUUID: newUUID()})
		s.emit(s.ch.event("CHANNEL_PARK", sitePark))
	case strings.HasPrefix(target, "fifo_"):
		s.dialplanExecute(execReq{app: "fifo", arg: target + " in", eventUUID: newUUID()})
		s.emit(s.fifoEvent(target, "push"))
		if s.script.FifoBridge {
			s.after(s.script.PlaybackDuration, func() { s.emit(s.fifoEvent(target, "bridge-caller-start")) })
		}
	}
}

func (s *session) dialplanExecute(req execReq) {
	v := &s.ch.vars
	v.del("current_application_data")
	v.set("current_application", req.app)
	if req.arg != "" {
		v.set("current_application_data", req.arg)
	}
	s.emit(s.ch.event("CHANNEL_EXECUTE", siteExecute, s.appHeaders(req, "", false)...))
	s.dialplanApp = &req
	s.lastApp, s.lastArg = req.app, req.arg
}

func (s *session) fifoEvent(fifo, action string) *eventMsg {
	l := headerList{{"Event-Subclass", "fifo::info"}}
	l = append(l, s.si.eventHeader("CUSTOM", siteCustomFifo.file, siteCustomFifo.function, siteCustomFifo.line)...)
	s.ch.channelBlock(&l)
	s.ch.addVariables(&l)
	l.add("FIFO-Name", fifo)
	l.add("FIFO-Action", action)
	if action == "bridge-caller-start" {
		l.add("FIFO-Consumer-Unique-ID", newUUID())
	}
	return &eventMsg{headers: l}
}

func (s *session) socketComplete() *eventMsg {
	return s.ch.event("CHANNEL_EXECUTE_COMPLETE", siteComplete,
		header{"Application", "socket"}, header{"Application-Data", s.socketData},
		header{"Application-Response", "_none_"}, header{"Application-UUID", s.socketAppUUID})
}
