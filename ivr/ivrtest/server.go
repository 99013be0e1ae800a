package ivrtest

import (
	"context"
	"fmt"
	"net"

	"github.com/fsivr/fsivr/ivr"
)

// Server is an ivr engine serving FreeSWITCH's outbound socket on a
// loopback port, as ivrd does: the real esl server, the real sessions.
// Point esltest.StartOutbound (the fake socket app) at Addr.
type Server struct {
	// Addr is the listener's host:port.
	Addr   string
	Engine *ivr.Engine

	cancel context.CancelFunc
	served chan error
	closed bool
}

// NewServer starts eng on a free loopback port with opts (drain bound,
// logger, ...) and returns it running, like httptest.NewServer; it panics
// if no port can be had. Close drains it.
func NewServer(eng *ivr.Engine, opts ivr.ServeOptions) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("ivrtest: listen on a loopback port: %v", err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Addr: ln.Addr().String(), Engine: eng, cancel: cancel, served: make(chan error, 1)}
	go func() { s.served <- eng.Serve(ctx, ln, opts) }()
	return s
}

// Close stops accepting, lets running calls drain (up to the options'
// DrainTimeout) and returns what Serve returned. A second Close returns nil.
func (s *Server) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.cancel()
	return <-s.served
}
