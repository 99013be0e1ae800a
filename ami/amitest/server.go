package amitest

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
)

// Header is one `Name: Value` line, in the order it was sent.
type Header struct{ Name, Value string }

// Config says how the fake behaves. The zero Config is the captured server:
// user dialer, secret secret, banner `Asterisk Call Manager/11.0.0`, the
// captures' dialplan (DefaultOutcome), the captured event orders.
type Config struct {
	Username string // default "dialer"
	Secret   string // default "secret"
	Banner   string // default "Asterisk Call Manager/11.0.0"
	// Challenge, when set, is the MD5 challenge every Challenge action
	// gets (to replay a capture's Key); default a random 9-digit number.
	Challenge string

	// Outcome scripts each Originate (sync or async) from what was sent;
	// nil means DefaultOutcome. It is called on the session's goroutine
	// and must not block.
	Outcome func(Originate) Outcome
	// RandomOrder makes an Originate whose Outcome has no Order use one of
	// the orderings observed for its kind in 50_*.summary.json, drawn from
	// a generator seeded with Seed (so a failing run can be repeated).
	RandomOrder bool
	Seed        int64

	// ChannelVars is manager.conf's channelvars (22_*): every event about a
	// call's channel carries `ChanVariable: NAME=value` after its snapshot,
	// and OriginateResponse `ChanVariable(<channel>): NAME=value` at its end.
	ChannelVars []string

	// AuthFailDelay is how long a wrong secret waits before Response: Error
	// and the close; default 1 s as Asterisk. Negative: no delay.
	AuthFailDelay time.Duration
	// WriteTimeout is manager.conf's writetimeout: a write to a session
	// that blocks this long (its peer stopped reading and the socket
	// buffers, about 4 MB, are full) cuts the session mid-message, as
	// Asterisk does. Default 100 ms; negative: never.
	WriteTimeout time.Duration
	// SlowClientLimit caps the bytes the fake itself queues for one session
	// beyond the socket buffers; past it the session is cut the same way.
	// Default 4 MiB, negative: no cap.
	SlowClientLimit int
	// BootDelay is, after Restart, how long after the first successful Login
	// FullyBooted arrives (65_restart_fastpoll: 339 ms). Default 0.
	BootDelay time.Duration

	// Queues, Hints and Devices are the call-centre state the list and queue
	// actions answer from; queue actions, Setvar DEVICE_STATE(...) and
	// SetDeviceState change it and send the captured events.
	Queues  []Queue
	Hints   []Hint
	Devices []Device

	// Logger gets one line per connection event and per closed bad frame;
	// nil discards.
	Logger *slog.Logger
}

// Queue is one app_queue queue with its members.
type Queue struct {
	Name     string
	Strategy string // default "ringall"
	Members  []Member
}

// Member is one queue member as QueueAdd makes it (or a static one).
type Member struct {
	Interface      string // e.g. Local/500@test
	Name           string // MemberName; default Interface
	StateInterface string // default Interface
	Penalty        int
	Paused         bool
	PausedReason   string
	Static         bool // Membership: static (QueueRemove answers `Member not dynamic`)
}

// Hint is one dialplan hint (ExtensionStateList, ExtensionStatus), e.g.
// {"500", "agents", "Custom:agent500"}; its state follows its devices.
type Hint struct {
	Exten, Context, Hint string
}

// Device is one device state (DeviceStateList, DeviceStateChange).
type Device struct {
	Name  string // e.g. Custom:agent500
	State string // NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD
}

// Action is one action the fake received, as sent.
type Action struct {
	Session int      // 1-based connection number
	Name    string   // the Action header's value
	Headers []Header // every header in order, Action included
	At      time.Time
}

// Get returns the first header named name (case-insensitive), or "".
func (a Action) Get(name string) string {
	for _, h := range a.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Server is a running fake Asterisk.
type Server struct {
	// Addr is host:port of the listener (127.0.0.1:<port>); it stays the
	// same across Refuse and Restart.
	Addr string

	cfg  Config
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu            sync.Mutex
	ln            net.Listener
	sessions      map[*session]struct{}
	nsess         int
	actions       []Action
	arrived       chan struct{}
	state         *pbxState
	boot          bootState
	bootScheduled bool
	paused        chan struct{} // non-nil while PauseReading is in force; closed to resume
	refusing      bool
	inflight      int
	rng           *rand.Rand
	peak          int
}

// NewServer starts a fake Asterisk on 127.0.0.1:0 with cfg. It panics if it
// cannot listen, like httptest.NewServer.
func NewServer(cfg Config) *Server {
	s, err := newServer(cfg)
	if err != nil {
		panic("amitest: " + err.Error())
	}
	return s
}

// Close drops every connection and call and waits for the fake's goroutines.
func (s *Server) Close() {
	s.stop()
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.sessions {
		c.kill()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Actions returns a copy of every action received so far, in arrival order.
func (s *Server) Actions() []Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Action(nil), s.actions...)
}

// ActionsNamed returns the received actions whose name is name
// (case-insensitive), in arrival order.
func (s *Server) ActionsNamed(name string) []Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Action
	for _, a := range s.actions {
		if strings.EqualFold(a.Name, name) {
			out = append(out, a)
		}
	}
	return out
}

// WaitActions blocks until at least n actions named name (any name when
// name is "") have arrived, or ctx ends.
func (s *Server) WaitActions(ctx context.Context, name string, n int) error {
	for {
		s.mu.Lock()
		got := 0
		for _, a := range s.actions {
			if name == "" || strings.EqualFold(a.Name, name) {
				got++
			}
		}
		arrived := s.arrived
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// InFlightOriginates is the number of Originates received whose outcome is
// not final yet (no OriginateResponse or sync reply sent).
func (s *Server) InFlightOriginates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight
}

// PeakInFlightOriginates is the highest InFlightOriginates seen so far:
// a dialer's concurrency limit is checked against it.
func (s *Server) PeakInFlightOriginates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// Channels is the number of channels that exist now (Local ;1 and ;2 count
// as two; the OutgoingSpoolFailed pseudo-channel is not counted).
func (s *Server) Channels() int {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	return len(s.state.channels)
}

// Sessions is the number of connected AMI sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) bootTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boot.started
}
