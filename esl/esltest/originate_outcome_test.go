package esltest

import (
	"strings"
	"testing"
)

// A scripted failing originate, as in_plain_session's `bgapi originate
// loopback/nosuchext/default &park`: command/reply +OK Job-UUID, then
// CHANNEL_CREATE, CHANNEL_HANGUP_COMPLETE (Answer-State hangup, the
// cause) and a BACKGROUND_JOB whose body is `-ERR <CAUSE>`.
func TestBgapiOriginateScriptedCause(t *testing.T) {
	_, addr := startServer(t, Config{Script: func(dest string) Script {
		return Script{RejectCause: map[string]string{"200": "USER_BUSY"}[dest]}
	}})
	dialer := dialServer(t, addr)
	dialer.cmd("auth ClueCon")
	dialer.cmd("events plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB")
	uuid := newUUID()
	dialer.send("bgapi originate {origination_uuid=" + uuid + "}sofia/gateway/gw/200 notify XML fsivr\nJob-UUID: job-1")
	reply := dialer.until(func(m *msg) bool { return m.get("Content-Type") == "command/reply" })
	if reply.get("Reply-Text") != "+OK Job-UUID: job-1" {
		t.Fatalf("reply %q", reply.get("Reply-Text"))
	}
	job := dialer.until(isEvent("BACKGROUND_JOB", ""))
	if job.eventBody != "-ERR USER_BUSY\n" || job.ev("Job-UUID") != "job-1" {
		t.Errorf("BACKGROUND_JOB %q job %q", job.eventBody, job.ev("Job-UUID"))
	}
	var seen []string
	for _, m := range dialer.seen {
		switch n := m.ev("Event-Name"); n {
		case "":
		case "CHANNEL_HANGUP_COMPLETE":
			seen = append(seen, n)
			if m.ev("Unique-ID") != uuid || m.ev("Hangup-Cause") != "USER_BUSY" || m.ev("Answer-State") != "hangup" {
				t.Errorf("hangup complete: uuid %s cause %s state %s", m.ev("Unique-ID"), m.ev("Hangup-Cause"), m.ev("Answer-State"))
			}
		default:
			seen = append(seen, n)
		}
	}
	// The captured order of a failing originate (its A leg's, after the
	// job, has no counterpart on a one-leg dial string).
	if got := strings.Join(seen, " "); got != "CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB" {
		t.Errorf("events %s", got)
	}
}

// What the socket app sets on an originated call (the notify flow's `set
// notify_result=confirmed`) is on the CHANNEL_HANGUP_COMPLETE the inbound
// listeners get: on a real switch the socket runs on that very channel.
func TestOriginatedHangupCarriesSocketVariables(t *testing.T) {
	ivrAddr, accepted := listenOnce(t)
	_, addr := startServer(t, Config{OutboundAddr: ivrAddr})
	dialer := dialServer(t, addr)
	dialer.cmd("auth ClueCon")
	dialer.cmd("events plain CHANNEL_HANGUP_COMPLETE")
	uuid := newUUID()
	dialer.send("api originate {origination_uuid=" + uuid + ",ivr_flow=notify,fsivr_attempt=" + uuid + "}sofia/gateway/gw/100 notify XML fsivr")
	if resp := dialer.until(func(m *msg) bool { return m.get("Content-Type") == "api/response" }); resp.body != "+OK "+uuid+"\n" {
		t.Fatalf("originate %q", resp.body)
	}
	ivr := acceptIVR(t, accepted)
	ivr.send("connect")
	ivr.next()
	ivr.cmd("myevents")
	ivr.cmd(execute("set", "notify_result=confirmed", newUUID()))
	ivr.until(isEvent("CHANNEL_EXECUTE_COMPLETE", "set"))
	ivr.cmd("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
	ivr.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })

	hc := dialer.until(isEvent("CHANNEL_HANGUP_COMPLETE", ""))
	if hc.ev("Unique-ID") != uuid || hc.ev("variable_notify_result") != "confirmed" || hc.ev("variable_fsivr_attempt") != uuid {
		t.Errorf("hangup complete uuid=%s notify_result=%q fsivr_attempt=%q", hc.ev("Unique-ID"), hc.ev("variable_notify_result"), hc.ev("variable_fsivr_attempt"))
	}
	if hc.ev("Hangup-Cause") != "NORMAL_CLEARING" {
		t.Errorf("cause %s", hc.ev("Hangup-Cause"))
	}
}
