package esltest

import (
	"fmt"
	"strings"
	"time"
)

// transferArgs splits the argument of the transfer app, `<dest>
// [<dialplan> [<context>]]`.
func transferArgs(arg string) (dest, context string) {
	f := strings.Fields(arg)
	if len(f) > 0 {
		dest = f[0]
	}
	if len(f) > 2 {
		context = f[2]
	}
	return dest, context
}

// transferTo moves the channel to dest in context ("" keeps the current
// one), as switch_ivr_session_transfer does: the caller profile changes
// first, so every completion that follows carries the new
// Caller-Destination-Number and Caller-Context (s1b_outbound_transfer).
// byApp is the transfer app that asked for it (its completion comes first),
// nil for uuid_transfer from outside. Then whatever runs on the socket ends
// (the running app, interrupted; the socket app's park: CHANNEL_UNPARK and
// the socket app's own completion), the channel routes again (CHANNEL_STATE
// x2) and runs the new extension's dialplan. The socket stays open.
func (s *session) transferTo(dest, context string, byApp *execReq) {
	if s.hungUp || dest == "" {
		if byApp != nil && !s.hungUp {
			s.completeApp(*byApp, "")
		}
		return
	}
	if context == "" {
		context = s.ch.context
	}
	hist := fmt.Sprintf("%d:%s:bl_xfer:%s/%s/XML", time.Now().Unix(), newUUID(), dest, context)
	s.ch.vars.set("max_forwards", "70")
	s.ch.vars.set("transfer_history", hist)
	s.ch.vars.set("transfer_source", hist)
	s.ch.dest, s.ch.context = dest, context
	if byApp != nil {
		s.completeApp(*byApp, "")
	}
	if cur := s.cur; cur != nil {
		s.cur = nil
		if byApp == nil || cur.req.eventUUID != byApp.eventUUID {
			switch {
			case cur.interrupt != nil:
				s.cur = cur // interrupt completes the app it belongs to
				cur.interrupt()
			case cur.abort != nil:
				s.cur = cur
				cur.abort()
			}
			s.cur = nil
		}
	}
	s.queue = nil
	if !s.transferred {
		s.transferred = true
		s.emitEvent("CHANNEL_UNPARK", siteUnpark)
		s.emitSocketComplete()
	} else if s.dialplanApp != nil {
		s.leaveDialplanApp()
	}
	s.ch.state, s.ch.stateNum = "CS_ROUTING", "2"
	s.emitEvent("CHANNEL_STATE", siteState)
	s.ch.state, s.ch.stateNum = "CS_EXECUTE", "4"
	s.emitEvent("CHANNEL_STATE", siteState)
	s.runDialplan(dest)
}

// runDialplan plays the part of a dialplan the fake knows: park, and a
// fifo_* extension that queues the caller (`fifo <name> in`).
func (s *session) runDialplan(dest string) {
	switch {
	case dest == "park":
		s.dialplanExecute(execReq{app: "park", eventUUID: newUUID()})
		s.emitEvent("CHANNEL_PARK", sitePark)
	case strings.HasPrefix(dest, "fifo_"):
		s.fifoIn(dest)
	}
}

// leaveDialplanApp ends the dialplan app the channel is in (a second
// transfer, or a hangup): park unparks first; a queued fifo caller leaves
// with mod_fifo's abort, a bridged one with bridge-caller-stop.
func (s *session) leaveDialplanApp() {
	app := s.dialplanApp
	if app == nil {
		return
	}
	if s.fifo != "" {
		s.fifoLeave()
	}
	if app.app == "park" {
		s.emitEvent("CHANNEL_UNPARK", siteUnpark)
	}
	s.completeApp(*app, "")
	s.dialplanApp = nil
}

func (s *session) dialplanExecute(req execReq) {
	v := &s.ch.vars
	v.del("current_application_data")
	v.set("current_application", req.app)
	if req.arg != "" {
		v.set("current_application_data", req.arg)
	}
	s.emitEvent("CHANNEL_EXECUTE", siteExecute, s.appHeaders(req, "", false)...)
	s.dialplanApp = &req
	s.lastApp, s.lastArg = req.app, req.arg
}

// fifoIn queues the caller in fifo name as mod_fifo's fifo_function does:
// push (FIFO-Name, FIFO-Action, FIFO-Slot: the priority, 0 by default),
// then the fifo_* variables. With Script.FifoBridge an agent takes the
// caller PlaybackDuration later (bridge-caller-start).
func (s *session) fifoIn(name string) {
	s.dialplanExecute(execReq{app: "fifo", arg: name + " in", eventUUID: newUUID()})
	s.fifo, s.fifoBridged = name, false
	slot := "0"
	if p, ok := s.ch.vars.get("fifo_priority"); ok {
		slot = p
	}
	s.emit(s.fifoEvent(name, "push", header{"FIFO-Slot", slot}))
	now := time.Now().Format("2006-01-02 15:04:05")
	s.ch.vars.set("fifo_position", "1")
	s.ch.vars.set("fifo_status", "WAITING")
	s.ch.vars.set("fifo_timestamp", now)
	s.ch.vars.set("fifo_push_timestamp", now)
	if s.script.FifoBridge {
		s.later(s.script.PlaybackDuration, func() {
			if s.fifo == name && !s.fifoBridged && !s.hungUp {
				s.fifoBridged, s.fifoBridgedAt = true, time.Now()
				s.emit(s.fifoEvent(name, "bridge-caller-start"))
			}
		})
	}
}

// fifoLeave is the caller's last fifo event: abort while waiting (with
// fifo_status ABORTED), bridge-caller-stop with the talk and hold times
// after an agent took the call.
func (s *session) fifoLeave() {
	name := s.fifo
	s.fifo = ""
	if s.fifoBridged {
		talk := time.Since(s.fifoBridgedAt)
		s.emit(s.fifoEvent(name, "bridge-caller-stop",
			header{"FIFO-Caller-Talk-Time-us", fmt.Sprint(talk.Microseconds())},
			header{"FIFO-Caller-Talk-Time-ms", fmt.Sprint(talk.Milliseconds())},
			header{"FIFO-Caller-Talk-Time-s", fmt.Sprint(int64(talk.Seconds()))},
			header{"FIFO-Caller-Hold-Time-us", "0"},
			header{"FIFO-Caller-Hold-Time-ms", "0"},
			header{"FIFO-Caller-Hold-Time-s", "0"}))
		return
	}
	s.ch.vars.set("fifo_status", "ABORTED")
	s.ch.vars.set("fifo_timestamp", time.Now().Format("2006-01-02 15:04:05"))
	s.emit(s.fifoEvent(name, "abort"))
}

// fifoEvent is a CUSTOM fifo::info event about this channel. As in
// mod_fifo, the caller's events carry FIFO-Name, FIFO-Action and what the
// action adds (FIFO-Slot on push, times on bridge-caller-stop): no caller
// or consumer numbers.
func (s *session) fifoEvent(fifo, action string, extra ...header) *eventMsg {
	l := make(headerList, 0, 80+len(s.ch.vars.list)+len(extra))
	l.add("Event-Subclass", "fifo::info")
	s.si.writeEventHeader(&l, "CUSTOM", siteCustomFifo)
	s.ch.channelBlock(&l)
	s.ch.addVariables(&l)
	l.add("FIFO-Name", fifo)
	l.add("FIFO-Action", action)
	l = append(l, extra...)
	return &eventMsg{headers: l}
}

// emitSocketComplete emits the CHANNEL_EXECUTE_COMPLETE of the socket
// application itself.
func (s *session) emitSocketComplete() {
	s.emitEvent("CHANNEL_EXECUTE_COMPLETE", siteComplete,
		header{"Application", "socket"}, header{"Application-Data", s.socketData},
		header{"Application-Response", "_none_"}, header{"Application-UUID", s.socketAppUUID})
}
