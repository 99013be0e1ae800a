package amitest

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// dispatch runs one action of a logged-in session.
func (s *Server) dispatch(c *session, lname, name, id string, hs []Header) {
	switch lname {
	case "":
		c.send(failure(id, "Missing action in request"))
		s.broadcast(s.requestBadFormat(c, "NONE"))
	case "login":
		c.send(success(id, "Already authenticated"))
	case "logoff":
		c.sendAndClose(encode(response("Goodbye", id, Header{"Message", "Thanks for all the fish."})))
	case "ping":
		c.send(encode(response("Success", id, Header{"Ping", "Pong"},
			Header{"Timestamp", strconv.FormatFloat(float64(time.Now().UnixMicro())/1e6, 'f', 6, 64)})))
	case "events":
		s.eventsAction(c, id, hs)
	case "filter":
		s.filterAction(c, id, hs)
	case "originate":
		s.originateAction(c, id, hs)
	default:
		if h := s.handlerFor(lname); h != nil {
			h(s, c, id, hs)
			return
		}
		c.send(failure(id, "Invalid/unknown command: "+name+". Use Action: ListCommands to show available commands."))
		s.broadcast(s.requestBadFormat(c, name))
	}
}

// requestBadFormat is the security event Asterisk sends after an unknown or
// missing action (02_*).
func (s *Server) requestBadFormat(c *session, action string) *event {
	tv := time.Now().UTC().Format("2006-01-02T15:04:05.000+0000")
	return newEvent("RequestBadFormat", "security", []Header{
		{"EventTV", tv}, {"Severity", "Error"}, {"Service", "AMI"}, {"EventVersion", "1"},
		{"SessionID", "0x" + itoa(0x7f0000000000+c.id)}, {"LocalAddress", "IPV4/TCP/" + s.Addr},
		{"RemoteAddress", "IPV4/TCP/" + c.conn.RemoteAddr().String()}, {"RequestType", "Action: " + action},
		{"SessionTV", tv}, {"AccountID", s.cfg.Username}})
}

func (s *Server) eventsAction(c *session, id string, hs []Header) {
	m := parseEventMask(getHeader(hs, "EventMask"))
	c.mu.Lock()
	c.events = m
	c.mu.Unlock()
	v := "Off"
	if m.on() {
		v = "On"
	}
	c.send(encode(response("Success", id, Header{"Events", v})))
}

func (s *Server) filterAction(c *session, id string, hs []Header) {
	// only Add exists; a missing Operation is unknown too (manager.c)
	if !strings.EqualFold(getHeader(hs, "Operation"), "Add") {
		c.send(failure(id, "Unknown operation"))
		return
	}
	f, err := parseFilter(hs)
	switch {
	case errors.Is(err, errFilterCompile):
		c.send(failure(id, "Filter did not compile.  Check the syntax of the filter given."))
		return
	case err != nil:
		c.send(failure(id, "Filter was formatted incorrectly.  Check the syntax of the filter given."))
		return
	}
	c.mu.Lock()
	c.filters = append(c.filters, f)
	c.mu.Unlock()
	c.send(success(id, "Success"))
}

type actionHandler func(s *Server, c *session, id string, hs []Header)

// handlerFor returns the handler of the other actions the fake knows.
func (s *Server) handlerFor(lname string) actionHandler {
	return handlers[lname]
}

var handlers = map[string]actionHandler{}

func init() {
	handlers["userevent"] = (*Server).userEvent
}

// userEvent is the UserEvent action: an event of class user carrying the
// action's headers but Action and UserEvent, ActionID included (69_*).
func (s *Server) userEvent(c *session, id string, hs []Header) {
	// an empty UserEvent is sent as such: Asterisk does not refuse it
	name := getHeader(hs, "UserEvent")
	rest := []Header{{"UserEvent", name}}
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "Action") && !strings.EqualFold(h.Name, "UserEvent") {
			rest = append(rest, h)
		}
	}
	c.send(success(id, "Event Sent"))
	s.broadcast(newEvent("UserEvent", "user", rest))
}
