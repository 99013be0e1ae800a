package esltest

import (
	"fmt"
	"strings"
)

// subscription is what one event socket connection asked to receive, with
// mod_event_socket's rules, for the outbound session and the inbound server
// alike: `event <format> <names...>` adds names (CUSTOM takes subclasses
// after it, ALL takes everything), `myevents` (outbound) adds the channel
// events of the controlled channel, `filter <header> <value>` keeps only
// events with one of the filtered values, `noevents` clears everything.
type subscription struct {
	format   string // "" = nothing subscribed; plain or json (xml is sent as plain)
	myevents bool
	all      bool
	events   map[string]bool
	customs  map[string]bool
	filters  []header
}

func newSubscription() subscription {
	return subscription{events: map[string]bool{}, customs: map[string]bool{}}
}

// add handles the argument of `event`/`events` and returns the Reply-Text.
func (s *subscription) add(arg string) string {
	fields := strings.Fields(arg)
	format := "plain"
	if len(fields) > 0 {
		switch strings.ToLower(fields[0]) {
		case "plain", "json", "xml":
			format = strings.ToLower(fields[0])
			fields = fields[1:]
		}
	}
	s.format = format
	custom := false
	for _, f := range fields {
		switch {
		case strings.EqualFold(f, "ALL"):
			s.all = true
		case f == "CUSTOM":
			custom = true
		case custom && strings.Contains(f, "::"):
			s.customs[f] = true
		default:
			s.events[strings.ToUpper(f)] = true
		}
	}
	return "+OK event listener enabled " + format
}

// addMyEvents handles `myevents [format]` and returns the Reply-Text.
func (s *subscription) addMyEvents(arg string) string {
	if s.myevents {
		return "-ERR aready enabled." // sic, mod_event_socket's text
	}
	s.myevents = true
	s.format = "plain"
	for _, f := range strings.Fields(arg) {
		if f == "json" || f == "plain" || f == "xml" {
			s.format = f
		}
	}
	return "+OK Events Enabled"
}

// addFilter handles `filter <header> <value>` and returns the Reply-Text.
func (s *subscription) addFilter(arg string) string {
	name, value, _ := strings.Cut(arg, " ")
	value = strings.TrimSpace(value)
	s.filters = append(s.filters, header{name, value})
	return fmt.Sprintf("+OK filter added. [%s]=[%s]", name, value)
}

// clear handles `noevents` and returns the Reply-Text.
func (s *subscription) clear() string {
	*s = newSubscription()
	return "+OK no longer listening for events"
}

// myEvent reports whether `myevents` subscribes to the event name
// (mod_event_socket's list of channel events).
func myEvent(name string) bool {
	switch name {
	case "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP",
		"CHANNEL_HANGUP_COMPLETE", "CHANNEL_APPLICATION", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE",
		"CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
		"CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_ORIGINATE", "DTMF",
		"DETECTED_SPEECH", "RECORD_START", "RECORD_STOP", "CALL_UPDATE":
		return true
	}
	return false
}

// wants reports whether ev is delivered to this subscription.
func (s *subscription) wants(ev *eventMsg) bool {
	if s.format == "" {
		return false
	}
	name := ev.name()
	var ok bool
	if name == "CUSTOM" {
		sub, _ := ev.headers.get("Event-Subclass")
		ok = s.all || s.customs[sub]
	} else {
		ok = s.wantsName(name)
	}
	if !ok || len(s.filters) == 0 {
		return ok
	}
	for _, f := range s.filters {
		if v, _ := ev.headers.get(f.name); v == f.value {
			return true
		}
	}
	return false
}

// wantsName reports whether a non-CUSTOM event of that name passes the
// subscription's names (not its filters).
func (s *subscription) wantsName(name string) bool {
	return s.format != "" && (s.all || s.events[name] || (s.myevents && myEvent(name)))
}

// encode renders ev in the subscribed format.
func (s *subscription) encode(ev *eventMsg) []byte {
	if s.format == "json" {
		return ev.encodeJSON()
	}
	return ev.encodePlain()
}
