package amitest

import "time"

// PauseReading makes every session stop reading what its client sends
// (new sessions too) until ResumeReading: the client's writes then fill the
// socket buffers and block, as with a stalled Asterisk.
func (s *Server) PauseReading() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused == nil {
		s.paused = make(chan struct{})
	}
}

// ResumeReading undoes PauseReading.
func (s *Server) ResumeReading() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused != nil {
		close(s.paused)
		s.paused = nil
	}
}

// DropAll closes every connection at once, without a byte (a network cut).
// Calls in progress go on, and their events reach the sessions that
// connect later.
func (s *Server) DropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.sessions {
		c.kill()
	}
}

// SetRefusing(true) closes the listener, so connects get ECONNREFUSED, until
// SetRefusing(false) listens again on the same address. Existing sessions
// are not touched.
func (s *Server) SetRefusing(refuse bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setRefusingLocked(refuse)
}

// Restart plays `core restart now` (65_restart_*): every logged-in session
// gets `Event: Shutdown` (Shutdown: Cleanly, Restart: True), then the TCP
// close with no Goodbye; a connect in the next moment is accepted and closed
// without a byte; then the port refuses for down; then it accepts again with
// a fresh banner, every call gone, and FullyBooted comes Config.BootDelay
// after the first Login. The returned channel is closed once the port
// accepts again.
func (s *Server) Restart(down time.Duration) <-chan struct{} {
	return s.restart(down)
}

// Emit sends one event (Event: name, Privilege: <class>,all, then headers)
// to every logged-in session whose EventMask and filters let it through,
// in the order Emit is called. class is the event's class as Asterisk
// names it: call, agent, dialplan, cdr, system, user, security, ...
func (s *Server) Emit(name, class string, headers ...Header) {
	s.broadcast(newEvent(name, class, headers))
}

// EmitRaw sends b as it is (it should end with a blank line) to every
// logged-in session whose event mask is not off, ignoring filters: for
// byte-level quirks Emit cannot produce, such as the captured bare LF
// inside an Agents item or after a Park reply's Message.
func (s *Server) EmitRaw(b []byte) {
	raw := append([]byte(nil), b...)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.sessions {
		c.mu.Lock()
		if c.authed && c.events.on() {
			if c.holding > 0 {
				c.held = append(c.held, &event{raw: raw})
			} else {
				c.enqueueLocked(raw)
			}
		}
		c.mu.Unlock()
	}
}
