package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure a server.
type Options struct {
	// AppendOnly turns on the AOF with appendfsync always, so everything the
	// server acknowledged survives a SIGKILL.
	AppendOnly bool
	// Port is the port to use; 0 picks a free one.
	Port int
	// Args are extra redis-server arguments, e.g. "--maxmemory", "10mb".
	Args []string
}

// readyTimeout bounds how long Start waits for PING; it is a failure guard,
// not a timing assertion.
const readyTimeout = 15 * time.Second

// Server is one redis-server process (or none, between Kill/Stop and
// Restart, or after Close).
type Server struct {
	t    testing.TB
	opts Options
	dir  string
	// Addr is host:port; it stays the same across Restart.
	Addr string
	// Port is the TCP port of Addr.
	Port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	log    *os.File
	closed bool
}

// Binary returns the path of redis-server, or skips the test if it is absent.
func Binary(t testing.TB) string {
	t.Helper()
	return lookPath(t, "redis-server")
}

func lookPath(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("redistest: %s not found on PATH; install it (apt-get install redis-server) to run this test — CI always has it", name)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listened on a moment
// ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("redistest: find a free port: %v", err)
	}
	return port
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// NewServer starts a redis-server on a free port (or opts.Port) in a
// temporary directory and returns it once it answers PING. It fails the test
// if the server does not come up, and skips it if redis-server is absent.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := NewUnstartedServer(t, opts)
	s.Start()
	return s
}

// NewUnstartedServer prepares a server (port, data directory, cleanup)
// without running it; Start runs it. Tests that need Redis to appear later
// (a writer started while Redis is down) use it.
func NewUnstartedServer(t testing.TB, opts Options) *Server {
	t.Helper()
	Binary(t)
	if opts.Port == 0 {
		opts.Port = FreePort(t)
	}
	s := &Server{
		t:    t,
		opts: opts,
		dir:  t.TempDir(),
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
		Port: opts.Port,
	}
	t.Cleanup(s.Close)
	return s
}

// Start runs redis-server and waits until it answers PING. It fails the test
// if the server does not come up or was closed.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("server closed")
	case s.cmd != nil:
		return errors.New("server already running")
	}
	appendOnly := "no"
	if s.opts.AppendOnly {
		appendOnly = "yes"
	}
	args := []string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", appendOnly,
		"--appendfsync", "always",
		"--dir", s.dir,
		"--daemonize", "no",
		"--protected-mode", "no",
		"--logfile", "",
	}
	args = append(args, s.opts.Args...)
	logFile, err := os.OpenFile(filepath.Join(s.dir, "redis-server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	cmd := exec.Command(Binary(s.t), args...)
	cmd.Dir = s.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.cmd, s.log = cmd, logFile
	if err := s.waitReady(); err != nil {
		s.killLocked()
		return fmt.Errorf("%w; server log:\n%s", err, s.LogTail())
	}
	return nil
}

func (s *Server) waitReady() error {
	client := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not answer PING within %v: %w", s.Addr, readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// LogTail returns the last few KiB of the server's log, for failure messages.
func (s *Server) LogTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis-server.log"))
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Kill sends SIGKILL and waits for the process to exit; Restart brings it
// back. It does nothing if the server is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait() // the exit status of a killed process is an error by definition
	_ = s.log.Close()
	s.cmd, s.log = nil, nil
}

// Stop shuts the server down gracefully (SIGTERM) and waits for it; Restart
// brings it back.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
	_ = s.log.Close()
	s.cmd, s.log = nil, nil
}

// Close kills the server for good (Start and Restart then fail the test).
// It is idempotent and also run by t.Cleanup.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
	s.closed = true
}

// Restart starts the server again on the same port with the same data
// directory (so an AOF written before a Kill is loaded). It kills a running
// server first.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.Start()
}

// Running reports whether the process is up (between Start and Kill/Stop).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Client returns a new go-redis client for this server, closed by t.Cleanup.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Dir is the server's data directory.
func (s *Server) Dir() string { return s.dir }

func listenLoopback(port int) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
}
