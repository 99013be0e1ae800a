package amitest

import "sync"

// pbxState is the fake PBX: its channels, queues, hints and devices. It has
// its own lock, taken after Server.mu when both are needed.
type pbxState struct {
	srv      *Server
	mu       sync.Mutex
	channels map[string]*channel
	queues   []*Queue
	hints    []Hint
	devices  []Device
	seq      int // Local channel sequence (Local/x@y-0000000N)
	uid      int // Uniqueid sequence
}

// channel is one live channel.
type channel struct {
	name, uniqueid, linkedid string
	context, exten, priority string
	vars                     map[string]string
	hangup                   chan int // receives a Hangup action's cause
}

func newPBXState(s *Server, cfg Config) *pbxState {
	p := &pbxState{srv: s, channels: map[string]*channel{}}
	for i := range cfg.Queues {
		q := cfg.Queues[i]
		q.Members = append([]Member(nil), q.Members...)
		p.queues = append(p.queues, &q)
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
		select {
		case ch.hangup <- -1:
		default:
		}
	}
	p.channels = map[string]*channel{}
}
