// Package redistest starts a real redis-server for tests, on a free port, in a
// temporary directory, and lets a test stop it, kill it (SIGKILL) and start it
// again on the same port and with the same data directory.
//
// It looks for redis-server on PATH; when it is absent the test is skipped
// with a clear message (CI installs redis-server, so there it never skips).
// Every server is killed by t.Cleanup.
//
//	srv := redistest.Start(t, redistest.Options{AppendOnly: true})
//	client := srv.Client(t)
//	srv.Kill()
//	srv.Restart()
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

// Options configure the server.
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

// Server is one redis-server process (or none, between Stop/Kill and Restart).
type Server struct {
	t    testing.TB
	opts Options
	dir  string
	// Addr is host:port; it stays the same across Restart.
	Addr string
	// Port is the TCP port of Addr.
	Port int

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

// Binary returns the path of redis-server, or skips the test if it is absent.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redistest: redis-server not found on PATH; install it (apt-get install redis-server) to run this test — CI always has it")
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listened on a moment
// ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("redistest: close probe listener: %v", err)
	}
	return port
}

// New prepares a server (port, data directory, cleanup) without starting it;
// call Start (method) to run it. Tests that need Redis to appear later use
// this.
func New(t testing.TB, opts Options) *Server {
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
	t.Cleanup(s.Kill)
	return s
}

// Start prepares and starts a server and waits until it answers PING.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(t, opts)
	s.Start()
	return s
}

// Start runs redis-server and waits until it answers PING. It fails the test
// if the server does not come up.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
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
		return fmt.Errorf("%w; server log:\n%s", err, s.logTail())
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

func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "redis-server.log"))
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Kill sends SIGKILL and waits for the process to exit. It does nothing if the
// server is not running.
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

// Stop shuts the server down gracefully (SIGTERM) and waits for it.
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

// Restart starts the server again on the same port with the same data
// directory (so an AOF written before a Kill is loaded). It kills a running
// server first.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.Start()
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
