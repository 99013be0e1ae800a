package amitest

import (
	"strings"
	"sync"
	"time"
)

// pbxState is the fake PBX: its channels, queues, hints and devices. It has
// its own lock, taken after Server.mu when both are needed.
type pbxState struct {
	srv         *Server
	mu          sync.Mutex
	channels    map[string]*channel
	queueStates []*queueState
	hints       []Hint
	devices     []Device
	globals     map[string]string
	parkNext    int
	order       int // channel creation counter
	seq         int // Local channel sequence (Local/x@y-0000000N)
	uid         int // Uniqueid sequence
}

// channel is one live channel.
type channel struct {
	name, uniqueid, linkedid string
	vars                     map[string]string
	call                     *call
	snap                     map[string]string // the snapshot headers, as the last event said
	app, appData             string
	created                  time.Time
	order                    int
}

func newPBXState(s *Server, cfg Config) *pbxState {
	p := &pbxState{srv: s, channels: map[string]*channel{}, globals: map[string]string{}}
	now := time.Now().Unix()
	for _, q := range cfg.Queues {
		qs := &queueState{name: q.Name, strategy: q.Strategy}
		if qs.strategy == "" {
			qs.strategy = "ringall"
		}
		for _, m := range q.Members {
			ms := &memberState{Member: m, queue: q.Name, loginTime: now}
			if ms.Name == "" {
				ms.Name = m.Interface
			}
			if ms.StateInterface == "" {
				ms.StateInterface = m.Interface
			}
			qs.members = append(qs.members, ms)
		}
		p.queueStates = append(p.queueStates, qs)
	}
	p.hints = append(p.hints, cfg.Hints...)
	p.devices = append(p.devices, cfg.Devices...)
	return p
}

// reset is a restart: every channel is gone.
func (p *pbxState) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range p.channels {
		if ch.call != nil {
			ch.call.hangup(-1)
		}
	}
	p.channels = map[string]*channel{}
	for _, q := range p.queueStates {
		q.callers = nil // their channels are gone
	}
}

// newCall assigns the call's channel names and Uniqueids: ChannelId and
// OtherChannelId when given (17_*; without OtherChannelId ;2 is
// `<ChannelId>;2`, 64_*), else Asterisk-style <epoch>.<n>.
func (p *pbxState) newCall(o Originate, out Outcome) *call {
	// Server.mu before pbxState.mu, never the other way (restart takes
	// them in that order)
	epoch := itoa(int(p.srv.bootTime().Unix()))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	nextUID := func() string {
		p.uid++
		return epoch + "." + itoa(p.uid)
	}
	cl := &call{o: o, out: out, start: time.Now(), hungup: make(chan struct{}), chanVars: p.srv.cfg.ChannelVars}
	tech, rest, _ := strings.Cut(o.Channel, "/")
	if strings.EqualFold(tech, "Local") {
		// Local/x@ctx/n: the options are not part of the name
		dest, _, _ := strings.Cut(rest, "/")
		base := tech + "/" + dest + "-" + fmtSeq(p.seq)
		cl.chan1, cl.chan2 = base+";1", base+";2"
	} else {
		// one channel, named after the endpoint as chan_pjsip does:
		// PJSIP/100@trunk -> PJSIP/trunk-<seq>, SIP/peer/100 -> SIP/peer-<seq>
		endpoint, _, _ := strings.Cut(rest, "/")
		if _, at, ok := strings.Cut(endpoint, "@"); ok {
			endpoint = at
		}
		cl.single = true
		cl.chan1 = tech + "/" + endpoint + "-" + fmtSeq(p.seq)
		cl.chan2 = cl.chan1 + ";2" // never sent: withoutLocalPair drops it
	}
	switch {
	case o.ChannelID != "":
		cl.uid1 = o.ChannelID
		cl.uid2 = o.OtherChannelID
		if cl.uid2 == "" {
			cl.uid2 = o.ChannelID + ";2"
		}
	default:
		cl.uid1, cl.uid2 = nextUID(), nextUID()
	}
	cl.uidf = nextUID()
	lexten, lcontext := "", ""
	if rest, ok := strings.CutPrefix(o.Channel, "Local/"); ok {
		lexten, lcontext, _ = strings.Cut(rest, "@")
		lcontext, _, _ = strings.Cut(lcontext, "/")
	} else if _, rest, ok := strings.Cut(o.Channel, "/"); ok {
		lexten, lcontext = rest, o.Context
	}
	cidName, cidNum := parseCallerID(o.CallerID)
	origUID := "<unknown>"
	if o.ChannelID != "" {
		origUID = o.ChannelID
	}
	if out.Kind == Answered {
		origUID = cl.uid1
	}
	// Asterisk sets the variables in the reverse of the order sent.
	for i := len(o.Variables) - 1; i >= 0; i-- {
		for _, kv := range strings.Split(o.Variables[i], ",") {
			k, v, _ := strings.Cut(kv, "=")
			cl.varNames = append(cl.varNames, k)
			cl.varsValues = append(cl.varsValues, v)
			if strings.TrimLeft(k, "_") == "CALLID" {
				cl.callid = v
			}
		}
	}
	cl.cidNum = cidNum
	cl.vars = map[string]string{
		"CHAN1": cl.chan1, "CHAN2": cl.chan2, "UID1": cl.uid1, "UID2": cl.uid2, "UIDF": cl.uidf,
		"ORIG_UID": origUID, "DIAL": o.Channel, "ACTIONID": o.ActionID,
		"CALLERID": o.CallerID, "CIDNUM": cidNum, "CIDNAME": cidName,
		"LEXTEN": lexten, "LCONTEXT": lcontext, "EXTEN": o.Exten, "CONTEXT": o.Context,
		"CALLID": cl.callid,
	}
	return cl
}

// parseCallerID splits `"name" <number>` (or a bare number).
func parseCallerID(s string) (name, num string) {
	name, num = "<unknown>", "<unknown>"
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		num = s[i+1 : len(s)-1]
		if n := strings.Trim(strings.TrimSpace(s[:i]), `"`); n != "" {
			name = n
		}
		return
	}
	return name, s
}

func (p *pbxState) addChannel(cl *call, name, uid string) {
	if name == "" || name == "OutgoingSpoolFailed" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.order++
	p.channels[name] = &channel{name: name, uniqueid: uid, linkedid: cl.uid1, call: cl,
		vars: map[string]string{}, snap: map[string]string{}, created: time.Now(), order: p.order}
}

func (p *pbxState) removeChannel(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.channels, name)
}

func (p *pbxState) endCall(cl *call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n, ch := range p.channels {
		if ch.call == cl {
			delete(p.channels, n)
		}
	}
}

// addLegs names the second Local pair a scenario dials (the customer leg
// of a click-to-call): pattern with ${EXTEN} expanded, ordinary Uniqueids
// (67_*: only Linkedid ties them to the ChannelId).
func (p *pbxState) addLegs(cl *call, pattern string) {
	epoch := itoa(int(p.srv.bootTime().Unix()))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	base := strings.ReplaceAll(pattern, "${EXTEN}", cl.o.Exten) + "-" + fmtSeq(p.seq)
	cl.vars["CHAN3"], cl.vars["CHAN4"] = base+";1", base+";2"
	p.uid++
	cl.vars["UID3"] = epoch + "." + itoa(p.uid)
	p.uid++
	cl.vars["UID4"] = epoch + "." + itoa(p.uid)
}
