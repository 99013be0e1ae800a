package esltest

import (
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// execReq is one queued sendmsg execute.
type execReq struct {
	app, arg, eventUUID, uuidName string
	due                           time.Time // not before: the execute delay
}

type step struct {
	after time.Duration
	do    func()
}

// running is the app currently executing on the channel.
type running struct {
	req   execReq
	steps []step
	next  time.Time
	// abort writes the app's CHANNEL_EXECUTE_COMPLETE when the channel hangs
	// up under it; nil for apps that never complete (unknown app).
	abort func()
	// interrupt writes it when a transfer ends the app (the channel leaves
	// CS_EXECUTE); nil means abort does.
	interrupt func()
	// dtmf, when set, takes digits pressed while the app runs (playback);
	// otherwise they are only reported.
	dtmf func(digit rune)
}

// after schedules fn d after the previous step of the running app.
func (s *session) after(d time.Duration, fn func()) {
	if s.cur == nil {
		return
	}
	s.cur.steps = append(s.cur.steps, step{d, fn})
}

func (s *session) startNext() {
	if s.cur != nil || len(s.queue) == 0 || s.hungUp || s.closing {
		return
	}
	if time.Now().Before(s.queue[0].due) {
		return // nextDeadline wakes the loop when it is due
	}
	req := s.queue[0]
	s.queue = s.queue[1:]
	s.cur = &running{req: req, next: time.Now()}
	s.cur.abort = func() { s.complete("") }
	s.after(0, func() { s.runApp(req) })
	s.advance()
}

// advance runs every step of the current app that is due, then starts the
// next queued app when the current one is finished.
func (s *session) advance() {
	for s.cur != nil && len(s.cur.steps) > 0 && !time.Now().Before(s.cur.next) {
		st := s.cur.steps[0]
		s.cur.steps = s.cur.steps[1:]
		cur := s.cur
		st.do()
		s.syncVars()
		if s.cur != cur {
			break
		}
		if len(s.cur.steps) == 0 {
			s.cur = nil
			break
		}
		s.cur.next = time.Now().Add(s.cur.steps[0].after)
	}
	if s.cur == nil {
		s.startNext()
	}
}

// execute does what switch_core_session_exec does before running an app:
// sets the loop and current_application variables and fires CHANNEL_EXECUTE.
func (s *session) execute(req execReq) {
	v := &s.ch.vars
	for _, k := range []string{"current_application_data", "current_application", "current_application_response"} {
		v.del(k)
	}
	v.set("current_loop", "1")
	v.set("total_loops", "1")
	v.set("current_application", req.app)
	if req.arg != "" {
		v.set("current_application_data", req.arg)
	}
	s.emitEvent("CHANNEL_EXECUTE", siteExecute, s.appHeaders(req, "", false)...)
	if req.arg != "" {
		v.set("current_application_data", req.arg)
	}
	v.set("current_application", req.app)
	s.lastApp, s.lastArg = req.app, req.arg

	s.appCounts[req.app]++
	if hp := s.script.HangupAt; hp != nil && hp.App == req.app && s.hangupDeadline.IsZero() {
		nth := hp.Nth
		if nth <= 0 {
			nth = 1
		}
		if s.appCounts[req.app] == nth {
			s.hangupDeadline = time.Now().Add(hp.Delay)
			s.hangupCause = hp.Cause
		}
	}
}

func (s *session) appHeaders(req execReq, response string, complete bool) []header {
	h := []header{{"Application", req.app}}
	if req.arg != "" {
		h = append(h, header{"Application-Data", req.arg})
	}
	if complete {
		if response == "" {
			response = "_none_"
		}
		h = append(h, header{"Application-Response", response})
	}
	h = append(h, header{"Application-UUID", req.eventUUID})
	if req.uuidName != "" {
		h = append(h, header{"Application-UUID-Name", req.uuidName})
	}
	return h
}

// complete fires CHANNEL_EXECUTE_COMPLETE for the running app.
func (s *session) complete(response string) {
	if s.cur == nil {
		return
	}
	s.completeApp(s.cur.req, response)
}

// completeApp fires CHANNEL_EXECUTE_COMPLETE for req.
func (s *session) completeApp(req execReq, response string) {
	if response != "" {
		s.ch.vars.set("current_application_response", response)
	}
	s.emitEvent("CHANNEL_EXECUTE_COMPLETE", siteComplete, s.appHeaders(req, response, true)...)
	s.ch.vars.del("current_loop")
	s.ch.vars.del("total_loops")
	s.lastComplete = time.Now()
}

func (s *session) setPlaybackVars(d time.Duration) {
	ms := d.Milliseconds()
	s.ch.vars.set("playback_last_offset_pos", strconv.FormatInt(ms*8, 10))
	s.ch.vars.set("playback_seconds", strconv.FormatInt(ms/1000, 10))
	s.ch.vars.set("playback_ms", strconv.FormatInt(ms, 10))
	s.ch.vars.set("playback_samples", strconv.FormatInt(ms*8, 10))
}

func (s *session) runApp(req execReq) {
	d := s.script.PlaybackDuration
	switch req.app {
	case "answer", "pre_answer":
		s.execute(req)
		if req.app == "answer" {
			s.answer()
		}
		s.complete("")
	case "playback":
		s.execute(req)
		s.playback(d)
	case "play_and_get_digits":
		s.execute(req)
		s.playAndGetDigits(req)
	case "set", "export":
		s.execute(req)
		if k, v, ok := strings.Cut(req.arg, "="); ok {
			if v == "" {
				s.ch.vars.del(k)
			} else {
				s.ch.vars.set(k, v)
			}
		}
		s.complete("")
	case "unset":
		s.execute(req)
		s.ch.vars.del(req.arg)
		s.complete("")
	case "bridge":
		s.execute(req)
		s.bridge(req)
	case "transfer":
		s.execute(req)
		target, context := transferArgs(req.arg)
		s.transferTo(target, context, &req)
	case "hangup":
		s.execute(req)
		cause := strings.TrimSpace(req.arg)
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.teardown(cause)
	case "sleep":
		s.execute(req)
		ms, _ := strconv.Atoi(strings.TrimSpace(req.arg))
		s.after(time.Duration(ms)*time.Millisecond, func() { s.complete("") })
	case "park", "log", "info", "ring_ready", "respond", "sched_hangup", "event":
		// park under socket control is a no-op in FS (it only logs an error).
		s.execute(req)
		s.complete("")
	default:
		// FS does not know the app: no EXECUTE, no COMPLETE, the channel
		// is hung up with DESTINATION_OUT_OF_ORDER.
		slog.Debug("esltest: unknown application", "app", req.app, "uuid", s.ch.uuid)
		s.cur.abort = nil
		s.teardown("DESTINATION_OUT_OF_ORDER")
	}
}

func (s *session) answer() {
	if s.ch.answerState == "answered" {
		return
	}
	s.ch.markAnswered()
	s.emitEvent("CHANNEL_ANSWER", siteAnswer)
	s.ch.vars.set("endpoint_disposition", "ANSWER")
}

// playback plays a prompt of length d, as mod_dptools' playback: a
// playback_terminators digit pressed meanwhile ends it (FILE PLAYED,
// playback_terminator_used), other digits are dropped; a hangup ends it
// with PLAYBACK ERROR; a transfer with FILE PLAYED.
func (s *session) playback(d time.Duration) {
	start := time.Now()
	cur := s.cur
	finish := func(response string) {
		s.setPlaybackVars(min(time.Since(start), d))
		s.complete(response)
	}
	cur.abort = func() { finish("PLAYBACK ERROR") }
	cur.interrupt = func() { finish("FILE PLAYED") }
	cur.dtmf = func(digit rune) {
		if strings.ContainsRune(playbackTerminators(s.ch.vars.list), digit) {
			s.ch.vars.set("playback_terminator_used", string(digit))
			finish("FILE PLAYED")
			if s.cur == cur {
				s.cur = nil // ends now; advance starts what is queued
			}
		}
	}
	s.after(d, func() { finish("FILE PLAYED") })
	if s.playbackIdx < len(s.script.PlaybackDigits) {
		digits := s.script.PlaybackDigits[s.playbackIdx]
		s.playbackIdx++
		if digits != "" {
			s.later(d/2, func() {
				if s.cur == cur {
					s.pressDuring(digits)
				}
			})
		}
	}
}

// playbackTerminators is what ends a playback (mod_dptools on_dtmf): the
// channel's playback_terminators, "*" when unset, "any" for every digit,
// "none" for none.
func playbackTerminators(vars headerList) string {
	t, ok := vars.get("playback_terminators")
	switch {
	case !ok:
		return "*"
	case strings.EqualFold(t, "any"):
		return "1234567890*#"
	case strings.EqualFold(t, "none"):
		return ""
	}
	return t
}
