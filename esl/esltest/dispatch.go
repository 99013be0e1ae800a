package esltest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

func execArg(cmd *command) string {
	if cmd.body != "" && strings.EqualFold(cmd.get("content-type"), "text/plain") {
		return cmd.body
	}
	return cmd.get("execute-app-arg")
}

func (s *session) handle(cmd *command) {
	s.record(cmd)
	switch cmd.verb() {
	case "connect":
		if !s.closing {
			s.buffer()
			s.out = s.ch.appendChannelData(s.out, "async")
		}
	case "myevents":
		first := !s.sub.myevents
		s.reply(s.sub.addMyEvents(cmd.arg()))
		if first && !s.script.NoInitialPark && !s.transferred && !s.hungUp {
			// The socket app parks the channel (async mode); its
			// CHANNEL_PARK races with the subscription and, when it wins,
			// follows the myevents reply (s1d, s1e, in_plain_aux_outbound1).
			s.emitEvent("CHANNEL_PARK", sitePark)
		}
	case "linger":
		s.linger = true
		if n, err := strconv.Atoi(cmd.arg()); err == nil && n > 0 {
			s.lingerSecs = n
			s.reply(fmt.Sprintf("+OK will linger %d seconds", n))
			return
		}
		s.lingerSecs = 0
		s.reply("+OK will linger")
	case "nolinger":
		s.linger = false
		s.reply("+OK will not linger")
	case "event", "events":
		s.reply(s.sub.add(cmd.arg()))
	case "noevents":
		s.reply(s.sub.clear())
	case "filter":
		s.reply(s.sub.addFilter(cmd.arg()))
	case "api":
		body, then := s.api(cmd.arg())
		s.write(encodeAPI(body))
		if then != nil {
			then()
		}
	case "bgapi":
		s.bgapi(cmd)
	case "getvar":
		v, _ := s.ch.vars.get(cmd.arg())
		s.reply(v)
	case "sendmsg":
		s.sendmsg(cmd)
	case "exit":
		s.exiting = true
		s.reply("+OK bye")
		s.write(encodeSessionGoodbye(s.ch.uuid))
		s.markDisconnected()
	case "resume":
		s.reply("+OK")
	default:
		s.reply("-ERR command not found")
	}
}

// api runs an api command sent on the outbound socket.
func (s *session) api(line string) (body string, then func()) {
	return s.si.runAPI(line, 1, s.channelAPI)
}

// channelAPI answers the api commands about the session's own channel.
func (s *session) channelAPI(name, arg string) (string, func(), bool) {
	switch name {
	case "uuid_kill":
		uuid, cause, _ := strings.Cut(arg, " ")
		if uuid != s.ch.uuid || s.hungUp {
			return "-ERR No such channel!\n", nil, true
		}
		if cause = strings.TrimSpace(cause); cause == "" {
			cause = "NORMAL_CLEARING"
		}
		return "+OK\n", func() { s.teardown(cause) }, true
	case "uuid_transfer":
		// uuid_transfer <uuid> [-bleg|-both] <dest> [<dialplan>] [<context>]
		f := strings.Fields(arg)
		if len(f) > 1 && strings.HasPrefix(f[1], "-") {
			f = append(f[:1], f[2:]...)
		}
		if len(f) < 2 || f[0] != s.ch.uuid || s.hungUp {
			return "-ERR No such channel!\n", nil, true
		}
		context := ""
		if len(f) >= 4 {
			context = f[3]
		}
		return "+OK\n", func() { s.transferTo(f[1], context, nil) }, true
	case "uuid_send_dtmf":
		uuid, digits, _ := strings.Cut(arg, " ")
		if uuid != s.ch.uuid || s.hungUp {
			return "-ERR No such channel!\n", nil, true
		}
		return "+OK Success\n", func() { s.pressDuring(strings.TrimSpace(digits)) }, true
	case "uuid_getvar":
		uuid, v, _ := strings.Cut(arg, " ")
		if uuid != s.ch.uuid {
			return "-ERR No such channel!\n", nil, true
		}
		if val, ok := s.ch.vars.get(strings.TrimSpace(v)); ok {
			return val, nil, true
		}
		return "_undef_", nil, true
	case "uuid_setvar":
		parts := strings.SplitN(arg, " ", 3)
		if len(parts) < 2 || parts[0] != s.ch.uuid {
			return "-ERR No such channel!\n", nil, true
		}
		if len(parts) == 3 {
			s.ch.vars.set(parts[1], parts[2])
		} else {
			s.ch.vars.del(parts[1])
		}
		s.syncVars()
		return "+OK\n", nil, true
	}
	return "", nil, false
}

func (s *session) bgapi(cmd *command) {
	job := jobUUID(cmd)
	s.write(encodeJobReply(job))
	body, then := s.api(cmd.arg())
	s.emit(s.si.backgroundJob(job, cmd.arg(), s.ch.uuid, body))
	if then != nil {
		then()
	}
}

func (s *session) sendmsg(cmd *command) {
	if target := cmd.arg(); target != "" && target != s.ch.uuid {
		s.reply("-ERR invalid session id [" + target + "]")
		return
	}
	s.reply("+OK")
	if s.hungUp || (s.transferred && s.dialplanApp == nil) {
		// The channel is gone, or has left the socket app for a dialplan
		// the fake does not play: FS still says +OK (mod_event_socket
		// queues a private event) but nothing runs it.
		return
	}
	// After a transfer into a park or a fifo the message is still queued
	// on the channel, and that app's own loop (park, the queue's music)
	// runs it: a playback or a hangup sent then reaches the caller in the
	// queue, as issue 16 item 1 saw on a real switch.
	switch strings.ToLower(cmd.get("call-command")) {
	case "execute":
		req := execReq{app: cmd.get("execute-app-name"), arg: execArg(cmd), eventUUID: cmd.get("Event-UUID"), uuidName: cmd.get("Event-UUID-Name")}
		if req.eventUUID == "" {
			req.eventUUID = newUUID()
		}
		if req.app == "transfer" && s.cur != nil {
			// A transfer does not wait for the running app: FreeSWITCH
			// runs it from the app's own read loop, and the app ends
			// because the channel leaves CS_EXECUTE (the drain hand-over
			// relies on this).
			s.queue = nil
			s.execute(req)
			target, context := transferArgs(req.arg)
			s.transferTo(target, context, &req)
			return
		}
		req.due = time.Now().Add(s.executeDelay)
		s.queue = append(s.queue, req)
		if s.cur == nil {
			s.startNext()
		}
	case "hangup":
		cause := cmd.get("hangup-cause")
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.teardown(cause)
	}
}
