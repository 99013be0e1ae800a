package amitest

import "strings"

// extState maps a device state to the extension state bits of a hint
// (60_*: 0 Idle, 1 InUse, 2 Busy, 4 Unavailable, 8 Ringing, 16 Hold).
var extState = map[string]int{
	"NOT_INUSE": 0, "INUSE": 1, "BUSY": 2, "UNAVAILABLE": 4, "INVALID": 4,
	"RINGING": 8, "RINGINUSE": 9, "ONHOLD": 16, "UNKNOWN": 4,
}

var extStateText = map[int]string{
	0: "Idle", 1: "InUse", 2: "Busy", 4: "Unavailable", 8: "Ringing", 9: "InUse&Ringing", 16: "Hold", -1: "Unknown",
}

// hintStatus aggregates the devices of a hint (`a&b`, presence after a
// comma is ignored): INUSE + RINGING = 9, NOT_INUSE + RINGING = 8 (60_*).
func (p *pbxState) hintStatus(h Hint) int {
	devs, _, _ := strings.Cut(h.Hint, ",")
	inuse, ringing, busy, hold, unavail, n := false, false, false, false, 0, 0
	for _, d := range strings.Split(devs, "&") {
		n++
		switch st := extState[p.deviceState(d)]; st {
		case 1:
			inuse = true
		case 2:
			busy = true
		case 4:
			unavail++
		case 8:
			ringing = true
		case 9:
			inuse, ringing = true, true
		case 16:
			hold = true
		}
	}
	switch {
	case ringing && inuse:
		return 9
	case ringing:
		return 8
	case busy:
		return 2
	case inuse:
		return 1
	case hold:
		return 16
	case unavail == n:
		return 4
	}
	return 0
}

func hintUses(h Hint, device string) bool {
	devs, _, _ := strings.Cut(h.Hint, ",")
	for _, d := range strings.Split(devs, "&") {
		if d == device {
			return true
		}
	}
	return false
}

func extensionStatusHeaders(h Hint, status int) []Header {
	return []Header{{"Exten", h.Exten}, {"Context", h.Context}, {"Hint", h.Hint},
		{"Status", itoa(status)}, {"StatusText", extStateText[status]}}
}

var validDeviceStates = map[string]bool{
	"NOT_INUSE": true, "INUSE": true, "BUSY": true, "INVALID": true, "UNAVAILABLE": true,
	"RINGING": true, "RINGINUSE": true, "ONHOLD": true,
}

// SetDeviceState changes a device's state as `Setvar DEVICE_STATE(dev)`
// does and sends the events that follows (DeviceStateChange, ExtensionStatus
// of the hints using it, QueueMemberStatus of the members whose
// StateInterface it is, Queue:<q>_avail changes). Setting the state the
// device already has sends nothing (60_*). It reports whether state was valid.
func (s *Server) SetDeviceState(device, state string) bool {
	state = strings.ToUpper(strings.TrimSpace(state))
	if !validDeviceStates[state] {
		return false
	}
	p := s.state
	p.mu.Lock()
	old := p.deviceState(device)
	if old == state {
		p.mu.Unlock()
		return true
	}
	hintsBefore := make([]int, len(p.hints))
	for i, h := range p.hints {
		hintsBefore[i] = p.hintStatus(h)
	}
	availBefore := make([]bool, len(p.queueStates))
	for i, q := range p.queueStates {
		availBefore[i] = q.available(p)
	}
	found := false
	for i := range p.devices {
		if p.devices[i].Name == device {
			p.devices[i].State, found = state, true
		}
	}
	if !found {
		p.devices = append(p.devices, Device{Name: device, State: state})
	}
	evs := []*event{devEvent(device, state)}
	for i, h := range p.hints {
		if st := p.hintStatus(h); st != hintsBefore[i] && hintUses(h, device) {
			evs = append(evs, newEvent("ExtensionStatus", "call", extensionStatusHeaders(h, st)))
		}
	}
	for i, q := range p.queueStates {
		for _, m := range q.members {
			if m.StateInterface == device {
				evs = append(evs, newEvent("QueueMemberStatus", "agent", m.block(p)))
			}
		}
		if avail := q.available(p); avail != availBefore[i] {
			evs = append(evs, devEvent("Queue:"+q.name+"_avail", availState(avail)))
		}
	}
	p.mu.Unlock()
	for _, e := range evs {
		s.broadcast(e)
	}
	return true
}

func init() {
	handlers["extensionstatelist"] = (*Server).extensionStateList
	handlers["devicestatelist"] = (*Server).deviceStateList
	handlers["extensionstate"] = (*Server).extensionState
}

func (s *Server) extensionStateList(c *session, id string, hs []Header) {
	p := s.state
	p.mu.Lock()
	var items [][]byte
	for _, h := range p.hints {
		items = append(items, listItem("ExtensionStatus", id, false, extensionStatusHeaders(h, p.hintStatus(h))))
	}
	p.mu.Unlock()
	s.sendList(c, id, "Extension Statuses will follow", "ExtensionStateListComplete", items, false)
}

func (s *Server) deviceStateList(c *session, id string, hs []Header) {
	p := s.state
	p.mu.Lock()
	var items [][]byte
	add := func(d, st string) {
		items = append(items, listItem("DeviceStateChange", id, false, []Header{{"Device", d}, {"State", st}}))
	}
	for _, q := range p.queueStates {
		add("Queue:"+q.name+"_avail", availState(q.available(p)))
		for _, m := range q.members {
			add("Queue:"+q.name+"_pause_"+m.Interface, availState(!m.Paused))
		}
	}
	for _, d := range p.devices {
		add(d.Name, d.State)
	}
	p.mu.Unlock()
	s.sendList(c, id, "Device State Changes will follow", "DeviceStateListComplete", items, false)
}

func (s *Server) extensionState(c *session, id string, hs []Header) {
	exten, context := getHeader(hs, "Exten"), getHeader(hs, "Context")
	p := s.state
	p.mu.Lock()
	h, st := Hint{Exten: exten, Context: context}, -1
	for _, x := range p.hints {
		if x.Exten == exten && x.Context == context {
			h, st = x, p.hintStatus(x)
		}
	}
	p.mu.Unlock()
	c.send(encode(response("Success", id, append([]Header{{"Message", "Extension Status"}}, extensionStatusHeaders(h, st)...)...)))
}
