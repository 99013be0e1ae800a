// Package crmtest is a fake CRM HTTP server for tests, the demo and load
// tools, in the spirit of net/http/httptest. It answers
// GET <URL>/voip/cdrs?caller_id=<id> (or any path ending in /<id>) from a
// table of canned answers, and counts the requests it got.
package crmtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path"
	"sync"
	"time"
)

// Answer is what the fake CRM says for one caller id.
type Answer struct {
	Extension string
	Name      string
	Account   string
	// Plain answers text/plain with just the extension (as the seed's CRM),
	// instead of a JSON object.
	Plain bool
	// Status is the HTTP status; 0 means 200.
	Status int
	// Body, if non-empty, is sent verbatim instead of the generated body.
	Body string
	// ContentType overrides the generated Content-Type.
	ContentType string
	// Delay is per-request latency: the handler waits this long before
	// answering (or until the client gives up).
	Delay time.Duration
	// Hold, if non-nil, makes the handler wait until it is closed (or the
	// client gives up) before answering: tests use it to keep requests in
	// flight without relying on timing.
	Hold <-chan struct{}
}

// notFound is the default answer for caller ids missing from the table.
func notFound() Answer {
	return Answer{Status: http.StatusNotFound, Body: "not found\n", ContentType: "text/plain"}
}

// Server is a running fake CRM. Use URL as the crm Config's BaseURL.
type Server struct {
	URL string

	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	mu       sync.Mutex
	answers  map[string]Answer
	fallback Answer
	total    int
	byCaller map[string]int
	arrived  chan struct{} // closed and replaced on every request, to wake WaitRequests
}

// NewServer starts a fake CRM answering from answers (keyed by caller id as
// it arrives, e.g. "+15550100"); unknown callers get 404. The map is copied.
func NewServer(answers map[string]Answer) *Server {
	s := &Server{
		closing:  make(chan struct{}),
		answers:  make(map[string]Answer, len(answers)),
		fallback: notFound(),
		byCaller: make(map[string]int),
		arrived:  make(chan struct{}),
	}
	for k, v := range answers {
		s.answers[k] = v
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server; requests still waiting on Delay or Hold are
// released first.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	s.srv.Close()
}

// Set changes (or adds) the answer for one caller id.
func (s *Server) Set(callerID string, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[callerID] = a
}

// SetDefault sets the answer for caller ids not in the table (default 404).
func (s *Server) SetDefault(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = a
}

// Requests is the number of requests received so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// RequestsFor is the number of requests received for one caller id.
func (s *Server) RequestsFor(callerID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byCaller[callerID]
}

// WaitRequests blocks until at least n requests have arrived in total, or
// ctx ends (then it returns ctx.Err()).
func (s *Server) WaitRequests(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		total, arrived := s.total, s.arrived
		s.mu.Unlock()
		if total >= n {
			return nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	caller := r.URL.Query().Get("caller_id")
	if caller == "" {
		caller = path.Base(r.URL.Path)
	}
	s.mu.Lock()
	a, ok := s.answers[caller]
	if !ok {
		a = s.fallback
	}
	s.total++
	s.byCaller[caller]++
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()

	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closing:
			t.Stop()
			return
		}
	}
	if a.Hold != nil {
		select {
		case <-a.Hold:
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}

	body, contentType := a.Body, a.ContentType
	if body == "" {
		if a.Plain {
			body = a.Extension + "\n"
			if contentType == "" {
				contentType = "text/plain; charset=utf-8"
			}
		} else if a.Status == 0 || a.Status/100 == 2 {
			b, _ := json.Marshal(map[string]string{"extension": a.Extension, "name": a.Name, "account": a.Account})
			body = string(b)
			if contentType == "" {
				contentType = "application/json"
			}
		}
	}
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
