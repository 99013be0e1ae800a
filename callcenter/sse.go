package callcenter

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

var heartbeatFrame = []byte(": heartbeat\n\n")

// sseHead is the response head of a hijacked stream: no length, no
// chunking, the body ends with the connection.
var sseHead = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
	"X-Accel-Buffering: no\r\nConnection: close\r\n\r\nretry: 2000\n\n")

// streamSet tracks the hijacked streams so Close can end them.
type streamSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

func (s *streamSet) doneChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
	}
	return s.done
}

func (s *streamSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
		s.done = make(chan struct{})
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *streamSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Close ends every event stream (their clients may resume elsewhere with
// Last-Event-ID) and waits for them; new streams are refused after it.
func (h *Handler) Close() {
	h.streams.mu.Lock()
	if !h.streams.closed && h.streams.done != nil {
		close(h.streams.done)
	}
	h.streams.closed = true
	for c := range h.streams.conns {
		_ = c.Close()
	}
	h.streams.mu.Unlock()
	h.streams.wg.Wait()
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	t := h.auth(w, r)
	if t == nil {
		return
	}
	q := r.URL.Query()
	scope, err := ParseScope(q.Get("agents"), q.Get("queues"))
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !h.allowed(w, r, t, scope) {
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("lastEventId")
	}
	log := h.log.With("token", t.Name, "remote", r.RemoteAddr)
	rc := http.NewResponseController(w)
	if r.ProtoMajor == 1 {
		conn, _, err := rc.Hijack()
		if err == nil {
			// What net/http buffered is dropped with it: an SSE client
			// sends nothing after its request.
			if !h.streams.add(conn) {
				_ = conn.Close()
				return
			}
			sub, op := h.cfg.Hub.Subscribe(scope, t.Name, last)
			log.Info("subscribed", "scope", scope.String(), "resumed", op.Resumed, "reason", op.Reason)
			go h.stream(conn, sub, op.Frames, log)
			return
		}
		if !errors.Is(err, http.ErrNotSupported) {
			log.Warn("hijack failed; streaming through net/http", "err", err)
		}
	}
	sub, op := h.cfg.Hub.Subscribe(scope, t.Name, last)
	defer h.cfg.Hub.Cancel(sub)
	log.Info("subscribed", "scope", scope.String(), "resumed", op.Resumed, "reason", op.Reason)
	h.streamHTTP(w, r, rc, sub, op.Frames, log)
}

// stream writes a hijacked connection's events: the opening frames, then
// what the hub sends, batched into one writev, each write bounded by
// WriteTimeout, a heartbeat after Heartbeat of silence.
func (h *Handler) stream(conn net.Conn, sub *Subscriber, first [][]byte, log *slog.Logger) {
	defer h.streams.remove(conn)
	defer conn.Close()
	defer h.cfg.Hub.Cancel(sub)
	// The deadline is moved only when less than half of WriteTimeout is
	// left, not before every write: each write still gets at least half.
	var deadline time.Time
	wrote := false
	write := func(bufs net.Buffers) error {
		if now := time.Now(); deadline.Sub(now) < h.cfg.WriteTimeout/2 {
			deadline = now.Add(h.cfg.WriteTimeout)
			if err := conn.SetWriteDeadline(deadline); err != nil {
				return err
			}
		}
		wrote = true
		_, err := bufs.WriteTo(conn)
		return err
	}
	if err := write(append(net.Buffers{sseHead}, first...)); err != nil {
		log.Info("subscriber gone", "err", err)
		return
	}
	first = nil
	// A heartbeat goes out at a tick with no write since the previous one:
	// silence lasts at most two periods, and a busy stream costs no timer
	// work per event.
	beat := time.NewTicker(h.cfg.Heartbeat)
	defer beat.Stop()
	closing := h.streams.doneChan()
	var batch net.Buffers
	for {
		select {
		case <-closing:
			return
		case <-beat.C:
			if !wrote {
				if err := write(net.Buffers{heartbeatFrame}); err != nil {
					log.Info("subscriber gone", "err", err)
					return
				}
			}
			wrote = false
		case f, ok := <-sub.ch:
			if !ok {
				if h.cfg.Hub.Dropped(sub) {
					log.Warn("slow subscriber dropped: its buffer was full; it may resume with Last-Event-ID")
				}
				return
			}
			batch = collect(append(batch[:0], f.data), sub.ch)
			err := write(batch)
			clear(batch[:cap(batch)])
			if err != nil {
				log.Info("subscriber gone", "err", err)
				return
			}
		}
	}
}

// collect appends what else is already queued (up to 64 frames), so a
// busy client gets few large writes, not one per event.
func collect(batch net.Buffers, ch <-chan *frame) net.Buffers {
	for len(batch) < 64 {
		select {
		case g, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, g.data)
		default:
			return batch
		}
	}
	return batch
}

// streamHTTP is the path for HTTP/2 (no hijacking): the same loop through
// the ResponseWriter.
func (h *Handler) streamHTTP(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, sub *Subscriber, first [][]byte, log *slog.Logger) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(frames ...[]byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		for _, f := range frames {
			if _, err := w.Write(f); err != nil {
				return err
			}
		}
		return rc.Flush()
	}
	if err := write(append([][]byte{[]byte("retry: 2000\n\n")}, first...)...); err != nil {
		log.Info("subscriber gone", "err", err)
		return
	}
	beat := time.NewTimer(h.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			if err := write(heartbeatFrame); err != nil {
				log.Info("subscriber gone", "err", err)
				return
			}
		case f, ok := <-sub.ch:
			if !ok {
				log.Warn("slow subscriber dropped: its buffer was full; it may resume with Last-Event-ID")
				return
			}
			if err := write(collect(net.Buffers{f.data}, sub.ch)...); err != nil {
				log.Info("subscriber gone", "err", err)
				return
			}
		}
		beat.Reset(h.cfg.Heartbeat)
	}
}
