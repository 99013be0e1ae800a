package esltest

import (
	"strings"
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
	s.emitEvent("CHANNEL_BRIDGE", siteBridge,
		header{"Bridge-A-Unique-ID", s.ch.uuid}, header{"Bridge-B-Unique-ID", other}, header{"Other-Leg-Unique-ID", other})
	s.after(out.TalkTime, func() {
		s.ch.vars.set("bridge_hangup_cause", "NORMAL_CLEARING")
		s.ch.vars.set("last_bridge_hangup_cause", "NORMAL_CLEARING")
		s.emitEvent("CHANNEL_UNBRIDGE", siteUnbridge,
			header{"Bridge-A-Unique-ID", s.ch.uuid}, header{"Bridge-B-Unique-ID", other}, header{"Other-Leg-Unique-ID", other})
		if v, _ := s.ch.vars.get("hangup_after_bridge"); v == "true" {
			s.teardown("NORMAL_CLEARING")
			return
		}
		s.complete("")
	})
}
