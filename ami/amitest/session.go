package amitest

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// session is one AMI connection. What the fake sends goes through an
// unbounded queue drained by writer, so events never block the PBX on a
// slow client; when more than SlowClientLimit bytes wait, the session is
// cut mid-message as Asterisk does.
type session struct {
	srv  *Server
	id   int
	conn net.Conn

	mu        sync.Mutex
	out       [][]byte
	pending   int
	closing   bool // close once the queue is drained
	dead      bool
	wake      chan struct{}
	authed    bool
	challenge string
	events    eventMask
	filters   []filter
	holding   int      // >0 while a sync Originate holds every event (21_*)
	held      []*event // events held back meanwhile
}

func (c *session) enqueueLocked(b []byte) {
	if c.dead || c.closing {
		return
	}
	c.out = append(c.out, b)
	c.pending += len(b)
	if lim := c.srv.cfg.SlowClientLimit; lim > 0 && c.pending > lim {
		// Asterisk's cut: what is already written stays, the rest is lost,
		// the TCP connection is closed; the last message sent is partial.
		// A cap on the fake's own queue: the write in progress is cut
		// short at once (a deadline in the past makes it return with what
		// it wrote), so the peer gets a partial message and then EOF.
		c.dead = true
		c.out = nil
		_ = c.conn.SetWriteDeadline(time.Unix(1, 0))
		c.srv.log.Info("amitest: cutting slow session", "session", c.id, "unread_bytes", c.pending)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send queues one message.
func (c *session) send(b []byte) {
	c.mu.Lock()
	c.enqueueLocked(b)
	c.mu.Unlock()
}

// sendAndClose queues b, then closes the connection once it is written.
func (c *session) sendAndClose(b []byte) {
	c.mu.Lock()
	c.enqueueLocked(b)
	c.closing = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliver sends an event if this session's mask and filters let it through;
// a sync Originate in progress holds it back.
func (c *session) deliver(e *event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.authed || !c.events.allows(e.class) || !passFilters(c.filters, e) {
		return
	}
	if c.holding > 0 {
		c.held = append(c.held, e)
		return
	}
	c.enqueueLocked(e.raw)
}

// hold starts holding back events; release sends reply, then every event held.
func (c *session) hold() {
	c.mu.Lock()
	c.holding++
	c.mu.Unlock()
}

func (c *session) release(reply []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enqueueLocked(reply)
	c.holding--
	if c.holding == 0 {
		for _, e := range c.held {
			c.enqueueLocked(e.raw)
		}
		c.held = nil
	}
}

// closeAfterDrain closes the connection once what is queued is written.
func (c *session) closeAfterDrain() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// kill closes the connection at once, dropping what is queued.
func (c *session) kill() {
	c.mu.Lock()
	c.dead = true
	c.out = nil
	c.mu.Unlock()
	_ = c.conn.Close()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeChunk is the size of the fake's socket writes.
const writeChunk = 4096

func (c *session) writer() {
	defer c.srv.wg.Done()
	// Under pressure (the peer reads slower than the fake writes) the last
	// byte written is held back until more follows, so the stream the peer
	// has always stops inside a message: a cut then lands mid-message, as
	// in the captures. Without pressure nothing is held (no added latency).
	var held []byte
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	for {
		select {
		case <-c.wake:
		case <-flush.C:
		case <-c.srv.ctx.Done():
			_ = c.conn.Close()
			return
		}
		c.mu.Lock()
		out, closing, dead := c.out, c.closing, c.dead
		c.out = nil
		c.mu.Unlock()
		if dead {
			_ = c.conn.Close()
			return
		}
		// Fixed-size chunks that ignore message boundaries, each with
		// Asterisk's write timeout: a peer that has stopped reading fills
		// the socket buffers, a write times out and the session is cut.
		stream := held
		held = nil
		for _, b := range out {
			stream = append(stream, b...)
		}
		pressure := false
		for len(stream) > 0 {
			chunk := stream[:min(len(stream), writeChunk)]
			if pressure && len(chunk) == len(stream) && !closing {
				if len(chunk) == 1 {
					held = append(held, chunk...)
					flush.Reset(5 * time.Millisecond)
					break
				}
				chunk = chunk[:len(chunk)-1]
			}
			if d := c.srv.cfg.WriteTimeout; d > 0 {
				_ = c.conn.SetWriteDeadline(time.Now().Add(d))
			}
			began := time.Now()
			n, err := c.conn.Write(chunk)
			if time.Since(began) > time.Millisecond {
				pressure = true
			}
			stream = stream[n:]
			c.mu.Lock()
			c.pending -= n
			dead := c.dead
			c.mu.Unlock()
			if err != nil || dead {
				if err != nil && !dead {
					c.srv.log.Info("amitest: cutting slow session", "session", c.id, "err", err)
				}
				_ = c.conn.Close()
				return
			}
		}
		if closing && len(held) == 0 {
			c.mu.Lock()
			empty := len(c.out) == 0
			c.mu.Unlock()
			if empty {
				_ = c.conn.Close()
				return
			}
		}
	}
}

func (c *session) serve() {
	defer c.srv.wg.Done()
	defer c.srv.dropSession(c)
	c.send([]byte(c.srv.cfg.Banner + "\r\n"))
	r := bufio.NewReader(pausingReader{c})
	for {
		hs, err := readAction(r)
		if err != nil {
			if errors.Is(err, errActionTooLarge) {
				c.srv.log.Info("amitest: closing session on oversized action", "session", c.id, "err", err)
			}
			c.kill()
			return
		}
		c.handle(hs)
		if c.isClosing() {
			return
		}
	}
}

func (c *session) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.dead
}

// pausingReader blocks reads while the server's PauseReading is in force.
type pausingReader struct{ c *session }

func (p pausingReader) Read(b []byte) (int, error) {
	if err := p.wait(); err != nil {
		return 0, err
	}
	n, err := p.c.conn.Read(b)
	// a read already in progress when PauseReading came: hold its bytes
	if werr := p.wait(); werr != nil {
		return 0, werr
	}
	return n, err
}

func (p pausingReader) wait() error {
	for {
		p.c.srv.mu.Lock()
		paused := p.c.srv.paused
		p.c.srv.mu.Unlock()
		if paused == nil {
			return nil
		}
		select {
		case <-paused:
		case <-p.c.srv.ctx.Done():
			return io.EOF
		}
	}
}

// handle runs one action.
func (c *session) handle(hs []Header) {
	name := getHeader(hs, "Action")
	id := getHeader(hs, "ActionID")
	c.srv.record(Action{Session: c.id, Name: name, Headers: hs, At: time.Now()})
	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	lname := strings.ToLower(name)
	if !authed {
		switch lname {
		case "login":
			c.login(hs, id)
		case "challenge":
			c.challengeAction(hs, id)
		case "logoff":
			c.sendAndClose(encode(response("Goodbye", id, Header{"Message", "Thanks for all the fish."})))
		default:
			c.send(failure(id, "Permission denied"))
		}
		return
	}
	c.srv.dispatch(c, lname, name, id, hs)
}

func (c *session) challengeAction(hs []Header, id string) {
	if !strings.EqualFold(getHeader(hs, "AuthType"), "MD5") {
		c.send(failure(id, "Must specify AuthType"))
		return
	}
	c.mu.Lock()
	if c.challenge == "" && c.srv.cfg.Challenge != "" {
		c.challenge = c.srv.cfg.Challenge
	}
	if c.challenge == "" {
		c.challenge = strconv.Itoa(100000000 + rand.IntN(900000000))
	}
	ch := c.challenge
	c.mu.Unlock()
	c.send(encode(response("Success", id, Header{"Challenge", ch})))
}

func (c *session) login(hs []Header, id string) {
	cfg := &c.srv.cfg
	ok := getHeader(hs, "Username") == cfg.Username
	if strings.EqualFold(getHeader(hs, "AuthType"), "MD5") {
		c.mu.Lock()
		ch := c.challenge
		c.mu.Unlock()
		sum := md5.Sum([]byte(ch + cfg.Secret))
		ok = ok && ch != "" && strings.EqualFold(getHeader(hs, "Key"), hex.EncodeToString(sum[:]))
	} else {
		ok = ok && getHeader(hs, "Secret") == cfg.Secret
	}
	if !ok {
		if d := cfg.AuthFailDelay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.srv.ctx.Done():
				t.Stop()
			}
		}
		c.sendAndClose(failure(id, "Authentication failed"))
		return
	}
	mask := allEvents
	if ev := getHeader(hs, "Events"); ev != "" {
		mask = parseEventMask(ev)
	}
	c.mu.Lock()
	c.authed = true
	c.events = mask
	c.enqueueLocked(success(id, "Authentication accepted"))
	c.mu.Unlock()
	c.srv.loggedIn(c)
}
