package esltest

import (
	"time"
)

// teardown hangs the channel up with cause, in the captured order:
// CHANNEL_HANGUP, the running app's COMPLETE, CHANNEL_UNPARK, the socket
// app's COMPLETE, CHANNEL_STATE x2, CHANNEL_HANGUP_COMPLETE, then the
// disconnect notice (linger: keep the socket; otherwise close it).
func (s *session) teardown(cause string) {
	if s.hungUp {
		return
	}
	s.hungUp = true
	ch := s.ch
	ch.startHangup(cause)
	s.emitEvent("CHANNEL_HANGUP", siteHangup)
	if s.cur != nil {
		if s.cur.abort != nil {
			s.cur.abort()
		}
		s.cur = nil
	}
	s.queue = nil
	if s.transferred {
		// The socket app is over: no CHANNEL_UNPARK of it. Only a parked
		// dialplan unparks (s1b_outbound_transfer); a queued fifo caller
		// leaves with mod_fifo's abort event instead.
		s.leaveDialplanApp()
	} else {
		s.emitEvent("CHANNEL_UNPARK", siteUnpark)
		s.emitSocketComplete()
	}
	ch.state = "CS_HANGUP"
	s.emitEvent("CHANNEL_STATE", siteState)
	ch.state, ch.callState, ch.stateNum = "CS_REPORTING", "HANGUP", "11"
	ch.hungup = time.Now()
	s.emitEvent("CHANNEL_STATE", siteState)
	ch.setCDRVariables(s.lastApp, s.lastArg)
	s.emitEvent("CHANNEL_HANGUP_COMPLETE", siteHangupDone)
	s.syncVars()
	s.call.mu.Lock()
	s.call.hangupCause = cause
	s.call.mu.Unlock()
	if s.onHangup != nil {
		// The outbound socket gets its events before the inbound
		// listeners get theirs, as when each was written at once.
		s.flush()
		// The inbound side's CHANNEL_HANGUP_COMPLETE carries what the
		// socket app set (notify_result): on a real switch it is one channel.
		s.onHangup(cause, s.call.Variables())
	}
	if s.linger {
		secs := -1
		if s.lingerSecs > 0 {
			secs = s.lingerSecs
			s.lingerDeadline = time.Now().Add(time.Duration(secs) * time.Second)
		}
		s.write(encodeLingerNotice(ch.uuid, ch.name, secs))
		return
	}
	s.write(encodeSessionGoodbye(ch.uuid))
	s.markDisconnected()
}
