package esltest

import (
	"bufio"
	"net"
	"sync"
)

// inboundConn is one client connection. Replies and events go through an
// unbounded queue drained by writer, so events from calls never block on a
// slow client and keep their order relative to replies.
type inboundConn struct {
	srv  *Server
	conn net.Conn

	mu      sync.Mutex
	out     [][]byte
	closing bool // close after the queue is drained
	wake    chan struct{}
	authed  bool
	sub     subscription
}

func (c *inboundConn) send(b []byte) {
	c.mu.Lock()
	c.out = append(c.out, b)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *inboundConn) sendAndClose(b []byte) {
	c.mu.Lock()
	c.out = append(c.out, b)
	c.closing = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *inboundConn) writer() {
	defer c.srv.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.srv.ctx.Done():
			return
		}
		c.mu.Lock()
		out, closing := c.out, c.closing
		c.out = nil
		c.mu.Unlock()
		for _, b := range out {
			if _, err := c.conn.Write(b); err != nil {
				_ = c.conn.Close()
				return
			}
		}
		if closing {
			_ = c.conn.Close()
			return
		}
	}
}

func (c *inboundConn) serve() {
	defer c.srv.wg.Done()
	defer func() {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}()
	c.send(encodeAuthRequest())
	r := bufio.NewReader(c.conn)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			c.mu.Lock()
			c.closing = true
			c.mu.Unlock()
			return
		}
		if !c.handle(cmd) {
			return
		}
	}
}

// handle runs one command; false ends the connection.
func (c *inboundConn) handle(cmd *command) bool {
	c.srv.record(cmd)
	verb := cmd.verb()
	if !c.authed {
		if verb != "auth" {
			c.send(encodeReply("-ERR command not found"))
			return true
		}
		if cmd.arg() != c.srv.cfg.Password {
			c.send(encodeReply("-ERR invalid"))
			c.sendAndClose(encodeGoodbye())
			return false
		}
		c.authed = true
		c.send(encodeReply("+OK accepted"))
		return true
	}
	switch verb {
	case "api":
		body, then := c.srv.api(cmd.arg())
		c.send(encodeAPI(body))
		if then != nil {
			then()
		}
	case "bgapi":
		job := jobUUID(cmd)
		c.send(encodeJobReply(job))
		line := cmd.arg()
		c.srv.wg.Add(1)
		go func() {
			defer c.srv.wg.Done()
			body, then := c.srv.api(line)
			c.srv.broadcast(c.srv.si.backgroundJob(job, line, "", body))
			if then != nil {
				then()
			}
		}()
	case "event", "events":
		c.mu.Lock()
		reply := c.sub.add(cmd.arg())
		c.mu.Unlock()
		c.send(encodeReply(reply))
	case "noevents":
		c.mu.Lock()
		reply := c.sub.clear()
		c.mu.Unlock()
		c.send(encodeReply(reply))
	case "filter":
		c.mu.Lock()
		reply := c.sub.addFilter(cmd.arg())
		c.mu.Unlock()
		c.send(encodeReply(reply))
	case "exit":
		c.send(encodeReply("+OK bye"))
		c.sendAndClose(encodeGoodbye())
		return false
	default:
		c.send(encodeReply("-ERR command not found"))
	}
	return true
}

func (c *inboundConn) deliver(ev *eventMsg) {
	c.mu.Lock()
	ok := c.authed && c.sub.wants(ev)
	sub := c.sub
	c.mu.Unlock()
	if ok {
		c.send(sub.encode(ev))
	}
}
