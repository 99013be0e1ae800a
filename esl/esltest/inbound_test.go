package esltest

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s := NewServer(cfg)
	t.Cleanup(s.Close)
	return s, s.Addr
}

func dialServer(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := newRawClient(t, conn)
	if ct := c.next().get("Content-Type"); ct != "auth/request" {
		t.Fatalf("first message %q", ct)
	}
	return c
}

func TestInboundAuth(t *testing.T) {
	_, addr := startServer(t, Config{})

	c := dialServer(t, addr)
	if got := c.cmd("api status"); got != "-ERR command not found" {
		t.Errorf("before auth: %q", got)
	}
	if got := c.cmd("auth ClueCon"); got != "+OK accepted" {
		t.Errorf("auth: %q", got)
	}

	real := parseAll(t, fixture(t, "in_badauth_session.rx.bin"))
	bad := dialServer(t, addr)
	if got := bad.cmd("auth WrongPassword"); got != "-ERR invalid" {
		t.Errorf("bad auth: %q", got)
	}
	notice := bad.next()
	if d := diffNames(names(real[2].headers), names(notice.headers)); d != "" || notice.body != real[2].body {
		t.Errorf("bad auth notice differs:\n%s body %q", d, notice.body)
	}
	if _, err := bad.r.ReadMessage(); err == nil {
		t.Error("connection should be closed after bad auth")
	}
}

func TestInboundAPIAndBgapi(t *testing.T) {
	real := parseAll(t, fixture(t, "in_plain_session.rx.bin"))
	_, addr := startServer(t, Config{})
	c := dialServer(t, addr)
	c.cmd("auth ClueCon")
	api := func(cmd string) string {
		c.send("api " + cmd)
		return c.until(func(m *msg) bool { return m.get("Content-Type") == "api/response" }).body
	}
	if b := api("version"); !strings.HasPrefix(b, "FreeSWITCH Version 1.10.12") {
		t.Errorf("version %q", b)
	}
	if b := api("status"); !strings.HasPrefix(b, "UP ") {
		t.Errorf("status %q", b)
	}
	if b := api("nosuchcommand foo"); b != "-ERR nosuchcommand Command not found!\n" {
		t.Errorf("unknown api %q", b)
	}
	if b := api("uuid_kill 6593a738-8950-497c-84ff-4e77d1c97f38"); b != "-ERR No such channel!\n" {
		t.Errorf("uuid_kill dead %q", b)
	}
	if got := c.cmd("nosuchcommand"); got != "-ERR command not found" {
		t.Errorf("unknown command %q", got)
	}
	if got := c.cmd("events plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB"); got != "+OK event listener enabled plain" {
		t.Errorf("events %q", got)
	}
	uuid := newUUID()
	c.send("bgapi originate {origination_uuid=" + uuid + "}loopback/ivr/default &park\nJob-UUID: my-job")
	jobReply := c.until(func(m *msg) bool { return m.get("Content-Type") == "command/reply" })
	if jobReply.get("Reply-Text") != "+OK Job-UUID: my-job" || jobReply.get("Job-UUID") != "my-job" {
		t.Errorf("job reply %+v", jobReply.headers)
	}
	job := c.until(isEvent("BACKGROUND_JOB", ""))
	if job.eventBody != "+OK "+uuid+"\n" || job.ev("Job-UUID") != "my-job" || job.ev("Job-Command") != "originate" {
		t.Errorf("job %+v body %q", job.event, job.eventBody)
	}
	var realJob, realCreate *msg
	for _, m := range real {
		if m.ev("Event-Name") == "BACKGROUND_JOB" && realJob == nil {
			realJob = m
		}
		if m.ev("Event-Name") == "CHANNEL_CREATE" && realCreate == nil {
			realCreate = m
		}
	}
	if d := diffNames(names(realJob.event), names(job.event)); d != "" {
		t.Errorf("BACKGROUND_JOB header names (real | fake):\n%s", d)
	}
	var create *msg
	for _, m := range c.seen {
		if m.ev("Event-Name") == "CHANNEL_CREATE" && m.ev("Unique-ID") == uuid {
			create = m
		}
	}
	if create == nil {
		t.Fatal("no CHANNEL_CREATE for the originated uuid")
	}
	// Variables differ with the endpoint (loopback has its own); compare the rest.
	if d := diffNames(names(withoutVars(realCreate.event)), names(withoutVars(create.event))); d != "" {
		t.Errorf("CHANNEL_CREATE header names (real | fake):\n%s", d)
	}
	if b := api("uuid_kill " + uuid); b != "+OK\n" {
		t.Errorf("uuid_kill %q", b)
	}
	hc := c.until(isEvent("CHANNEL_HANGUP_COMPLETE", ""))
	if hc.ev("Unique-ID") != uuid || hc.ev("Hangup-Cause") != "NORMAL_CLEARING" {
		t.Errorf("hangup complete %s %s", hc.ev("Unique-ID"), hc.ev("Hangup-Cause"))
	}

	c.send("bgapi originate error/USER_BUSY &park")
	c.reply()
	var order []string
	for {
		m := c.next()
		order = append(order, m.ev("Event-Name"))
		if m.ev("Event-Name") == "BACKGROUND_JOB" {
			if m.eventBody != "-ERR USER_BUSY\n" {
				t.Errorf("failed originate body %q", m.eventBody)
			}
			break
		}
	}
	if strings.Join(order, " ") != "CHANNEL_CREATE CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB" {
		t.Errorf("failed originate order %v", order)
	}
	c.send("bgapi nosuchcommand")
	c.reply()
	j := c.until(isEvent("BACKGROUND_JOB", ""))
	if j.eventBody != "-ERR nosuchcommand Command not found!\n" {
		t.Errorf("bgapi unknown body %q", j.eventBody)
	}
	if got := c.cmd("exit"); got != "+OK bye" {
		t.Errorf("exit %q", got)
	}
	if n := c.next(); n.get("Content-Type") != "text/disconnect-notice" || n.body != goodbye {
		t.Errorf("exit notice %+v", n)
	}
}

func withoutVars(hs []header) []header {
	var out []header
	for _, h := range hs {
		if !strings.HasPrefix(h.name, "variable_") {
			out = append(out, h)
		}
	}
	return out
}

func TestInboundJSONEvents(t *testing.T) {
	real := parseAll(t, fixture(t, "in_json_session.rx.bin"))
	_, addr := startServer(t, Config{})
	c := dialServer(t, addr)
	c.cmd("auth ClueCon")
	if got := c.cmd("events json CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE BACKGROUND_JOB"); got != "+OK event listener enabled json" {
		t.Errorf("events json %q", got)
	}
	uuid := newUUID()
	c.send("bgapi originate {origination_uuid=" + uuid + "}loopback/ivr/default &park")
	c.reply()
	job := c.until(func(m *msg) bool { return strings.Contains(m.body, `"Event-Name":"BACKGROUND_JOB"`) })
	if job.get("Content-Type") != "text/event-json" || names(job.headers)[0] != "Content-Length" {
		t.Errorf("outer headers %+v", job.headers)
	}
	var fields map[string]string
	if err := json.Unmarshal([]byte(job.body), &fields); err != nil {
		t.Fatalf("json: %v", err)
	}
	if fields["_body"] != "+OK "+uuid+"\n" || fields["Job-Command-Arg"] != "{origination_uuid="+uuid+"}loopback/ivr/default &park" {
		t.Errorf("fields %v", fields)
	}
	var realJob *msg
	for _, m := range real {
		if strings.Contains(m.body, `"Event-Name":"BACKGROUND_JOB"`) {
			realJob = m
		}
	}
	if got, want := jsonKeys(t, job.body), jsonKeys(t, realJob.body); got != want {
		t.Errorf("json keys\n got %s\nwant %s", got, want)
	}
}

// jsonKeys lists an object's keys in document order.
func jsonKeys(t *testing.T, s string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(keys, ",")
}

// TestOriginateConnectsOutbound: dialer -> fake FreeSWITCH -> IVR listener.
func TestOriginateConnectsOutbound(t *testing.T) {
	ivrAddr, accepted := listenOnce(t)
	_, addr := startServer(t, Config{
		OutboundAddr: ivrAddr,
		Script:       func(dest string) Script { return Script{CallerIDNumber: "5551234", DestinationNumber: dest} },
	})
	dialer := dialServer(t, addr)
	dialer.cmd("auth ClueCon")
	dialer.cmd("events plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
	uuid := newUUID()
	dialer.send("api originate {origination_uuid=" + uuid + ",ivr_flow=sales}sofia/gateway/gw/100 &socket(127.0.0.1:8084 async full)")
	resp := dialer.until(func(m *msg) bool { return m.get("Content-Type") == "api/response" })
	if resp.body != "+OK "+uuid+"\n" {
		t.Fatalf("originate %q", resp.body)
	}

	ivr := acceptIVR(t, accepted)
	ivr.send("connect")
	data := ivr.next()
	if data.get("Unique-ID") != uuid || data.get("variable_ivr_flow") != "sales" || data.get("Caller-Destination-Number") != "100" {
		t.Errorf("channel data uuid=%s flow=%s dest=%s", data.get("Unique-ID"), data.get("variable_ivr_flow"), data.get("Caller-Destination-Number"))
	}
	ivr.cmd("myevents")
	ivr.cmd(execute("answer", "", newUUID()))
	ivr.until(isEvent("CHANNEL_EXECUTE_COMPLETE", "answer"))
	ivr.cmd("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
	ivr.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })

	hc := dialer.until(isEvent("CHANNEL_HANGUP_COMPLETE", ""))
	if hc.ev("Unique-ID") != uuid {
		t.Errorf("hangup complete for %s", hc.ev("Unique-ID"))
	}
	var seen []string
	for _, m := range dialer.seen {
		if n := m.ev("Event-Name"); n != "" {
			seen = append(seen, n)
		}
	}
	if strings.Join(seen, " ") != "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE" {
		t.Errorf("dialer saw %v", seen)
	}
}

// uuid_transfer on the inbound socket (a supervisor, another controller)
// moves a call that an outbound socket controls: the outbound side sees
// its playback end, the socket app complete and the caller queued.
func TestInboundUUIDTransferMovesOutboundCall(t *testing.T) {
	ivrAddr, accepted := listenOnce(t)
	_, addr := startServer(t, Config{
		OutboundAddr: ivrAddr,
		Script:       func(string) Script { return Script{PlaybackDuration: 1 << 40} },
	})
	ctl := dialServer(t, addr)
	ctl.cmd("auth ClueCon")
	uuid := newUUID()
	api := func(cmd string) string {
		ctl.send("api " + cmd)
		return ctl.until(func(m *msg) bool { return m.get("Content-Type") == "api/response" }).body
	}
	if b := api("originate {origination_uuid=" + uuid + "}sofia/gateway/gw/100 &socket(127.0.0.1:8084 async full)"); b != "+OK "+uuid+"\n" {
		t.Fatalf("originate %q", b)
	}
	ivr := acceptIVR(t, accepted)
	fsivrSetup(ivr)
	id := newUUID()
	ivr.cmd(execute("playback", "new_sales/1000.wav", id))
	ivr.until(isEvent("CHANNEL_EXECUTE", "playback"))
	if b := api("uuid_transfer " + uuid + " fifo_sales XML new_sales"); b != "+OK\n" {
		t.Fatalf("uuid_transfer %q", b)
	}
	done := ivr.until(func(m *msg) bool {
		return m.ev("Application-UUID") == id && m.ev("Event-Name") == "CHANNEL_EXECUTE_COMPLETE"
	})
	if done.ev("Caller-Destination-Number") != "fifo_sales" || done.ev("Application-Response") != "FILE PLAYED" {
		t.Errorf("playback completion: destination %q response %q", done.ev("Caller-Destination-Number"), done.ev("Application-Response"))
	}
	ivr.until(isEvent("CHANNEL_EXECUTE_COMPLETE", "socket"))
	ivr.until(func(m *msg) bool { return m.ev("FIFO-Action") == "push" })
	if b := api("uuid_transfer " + newUUID() + " park"); b != "-ERR No such channel!\n" {
		t.Errorf("uuid_transfer of an unknown channel: %q", b)
	}
	if b := api("uuid_kill " + uuid); b != "+OK\n" {
		t.Errorf("uuid_kill %q", b)
	}
	ivr.until(func(m *msg) bool { return m.get("Content-Type") == "text/disconnect-notice" })
}
