package amitest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Spool is a fake pbx_spool (call files, ../testdata/callfiles and 40_*):
// it watches <dir>/outgoing, runs each call file whose mtime has come with
// the Server's scripted Outcome for its Channel, rewrites the file with
// StartRetry/EndRetry (and, for a no-answer, DelayedRetry) lines, retries
// MaxRetries times RetryTime apart, then archives it to
// <dir>/outgoing_done with `Status: Completed | Expired | Failed` when it
// says `Archive: yes`, or deletes it. Its calls send the channel events of
// an Originate to the AMI sessions, but no OriginateResponse.
type Spool struct {
	srv  *Server
	dir  string
	poll time.Duration
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	running map[string]bool
	results map[string]string
	changed chan struct{}
}

// StartSpool starts a fake pbx_spool on dir (outgoing/ and outgoing_done/
// are created when missing), scanning every poll (default 20 ms). Close it
// before the Server.
func (s *Server) StartSpool(dir string, poll time.Duration) (*Spool, error) {
	if poll <= 0 {
		poll = 20 * time.Millisecond
	}
	for _, d := range []string{"outgoing", "outgoing_done"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("amitest: spool: %w", err)
		}
	}
	sp := &Spool{srv: s, dir: dir, poll: poll, stop: make(chan struct{}), done: make(chan struct{}),
		running: map[string]bool{}, results: map[string]string{}, changed: make(chan struct{})}
	go sp.loop()
	return sp, nil
}

// Close stops scanning and waits for the calls in progress.
func (sp *Spool) Close() {
	close(sp.stop)
	<-sp.done
}

// Result returns the Status a call file ended with (Completed, Expired,
// Failed, or "Deleted" when it had no Archive), and whether it has ended.
func (sp *Spool) Result(name string) (string, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	r, ok := sp.results[name]
	return r, ok
}

// Wait blocks until the named call file has ended or d passes.
func (sp *Spool) Wait(name string, d time.Duration) (string, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		sp.mu.Lock()
		r, ok := sp.results[name]
		ch := sp.changed
		sp.mu.Unlock()
		if ok {
			return r, true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return "", false
		}
	}
}

func (sp *Spool) loop() {
	var wg sync.WaitGroup
	defer close(sp.done)
	defer wg.Wait()
	t := time.NewTicker(sp.poll)
	defer t.Stop()
	for {
		select {
		case <-sp.stop:
			return
		case <-sp.srv.ctx.Done():
			return
		case <-t.C:
		}
		ents, err := os.ReadDir(filepath.Join(sp.dir, "outgoing"))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			name := e.Name()
			sp.mu.Lock()
			busy := sp.running[name]
			sp.mu.Unlock()
			if busy {
				continue
			}
			info, err := e.Info()
			if err != nil || info.ModTime().After(time.Now()) {
				continue // a future mtime schedules the call
			}
			sp.mu.Lock()
			sp.running[name] = true
			sp.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				status := sp.run(name)
				sp.mu.Lock()
				delete(sp.running, name)
				if status != "" {
					sp.results[name] = status
					close(sp.changed)
					sp.changed = make(chan struct{})
				}
				sp.mu.Unlock()
			}()
		}
	}
}

// callFile is the parsed content of a call file.
type callFile struct {
	raw                                  []byte
	channel, callerID, context, exten    string
	priority, application, data, account string
	maxRetries                           int
	retryTime, waitTime                  time.Duration
	sets                                 []string
	archive                              bool
}

var errBadCallFile = errors.New("amitest: invalid call file")

func parseCallFile(b []byte) (*callFile, error) {
	cf := &callFile{raw: b, retryTime: 300 * time.Second, waitTime: 45 * time.Second, priority: "1"}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(stripCallFileComment(sc.Text()))
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "channel":
			cf.channel = v
		case "callerid":
			cf.callerID = v
		case "context":
			cf.context = v
		case "extension":
			cf.exten = v
		case "priority":
			cf.priority = v
		case "application":
			cf.application = v
		case "data":
			cf.data = v
		case "account":
			cf.account = v
		case "maxretries":
			cf.maxRetries, _ = strconv.Atoi(v)
		case "retrytime":
			if n, err := strconv.Atoi(v); err == nil {
				cf.retryTime = time.Duration(n) * time.Second
			}
		case "waittime":
			if n, err := strconv.Atoi(v); err == nil {
				cf.waitTime = time.Duration(n) * time.Second
			}
		case "set", "setvar":
			cf.sets = append(cf.sets, v)
		case "archive":
			cf.archive = truthy(v)
		}
	}
	if cf.channel == "" || (cf.application == "" && cf.exten == "") {
		return cf, errBadCallFile
	}
	return cf, nil
}

// stripCallFileComment cuts a call-file line where pbx_spool does before
// it reads the directive: at a '#' that starts the line or follows a blank
// or a tab, and at the first ';' not escaped as "\;" (an escaped one stays,
// without its backslash). A value with such a character reaches Asterisk
// cut short: the fake must cut it as well, or a test would pass a call
// file the real spool reads otherwise.
func stripCallFileComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			line = line[:i]
			break
		}
	}
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if line[i] != ';' {
			continue
		}
		if i > 0 && line[i-1] == '\\' {
			b.WriteString(line[:i-1])
			b.WriteByte(';')
			line = line[i+1:]
			i = -1
			continue
		}
		line = line[:i]
		break
	}
	if b.Len() == 0 {
		return line
	}
	b.WriteString(line)
	return b.String()
}

// run processes one call file; it returns the final status, or "" when the
// spool stopped first.
func (sp *Spool) run(name string) string {
	path := filepath.Join(sp.dir, "outgoing", name)
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	cf, perr := parseCallFile(b)
	if perr != nil {
		return sp.finish(path, name, cf, "Failed")
	}
	pid := os.Getpid()
	for attempt := 1; attempt <= cf.maxRetries+1; attempt++ {
		start := time.Now()
		if err := sp.appendLine(path, fmt.Sprintf("\nStartRetry: %d %d (%d)\n", pid, attempt, start.Add(cf.retryTime).Unix())); err != nil {
			return ""
		}
		next := start.Add(cf.retryTime)
		_ = os.Chtimes(path, next, next)
		kind := sp.call(cf, attempt)
		if kind == Answered {
			return sp.finish(path, name, cf, "Completed")
		}
		if kind == NoAnswer {
			// captured: a no-answer within WaitTime adds a DelayedRetry line
			_ = sp.appendLine(path, fmt.Sprintf("\nDelayedRetry: %d %d (%d)\n", pid, attempt-1, start.Add(cf.retryTime).Unix()))
		}
		if attempt == cf.maxRetries+1 {
			break
		}
		_ = sp.appendLine(path, fmt.Sprintf("\nEndRetry: %d %d (%d)\n", pid, attempt, time.Now().Unix()))
		for time.Now().Before(next) {
			select {
			case <-sp.stop:
				return ""
			case <-sp.srv.ctx.Done():
				return ""
			case <-time.After(time.Until(next)):
			}
		}
	}
	return sp.finish(path, name, cf, "Expired")
}

func (sp *Spool) appendLine(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// finish archives (with the Status line) or deletes the file.
func (sp *Spool) finish(path, name string, cf *callFile, status string) string {
	if cf == nil || !cf.archive {
		_ = os.Remove(path)
		if status == "Failed" {
			return status
		}
		return "Deleted"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	b = append(b, "Status: "+status+"\n"...)
	if err := os.WriteFile(filepath.Join(sp.dir, "outgoing_done", name), b, 0o644); err != nil {
		return ""
	}
	_ = os.Remove(path)
	return status
}

// call runs one attempt with the scripted outcome and waits for its end.
func (sp *Spool) call(cf *callFile, attempt int) OutcomeKind {
	s := sp.srv
	// Asterisk sets the file's variables in file order, then
	// AST_OUTGOING_ATTEMPT (40_*); newCall reverses, so pass them reversed.
	vars := []string{"AST_OUTGOING_ATTEMPT=" + itoa(attempt)}
	for i := len(cf.sets) - 1; i >= 0; i-- {
		vars = append(vars, cf.sets[i])
	}
	o := Originate{Channel: cf.channel, Context: cf.context, Exten: cf.exten, Priority: cf.priority,
		Application: cf.application, Data: cf.data, CallerID: cf.callerID, Timeout: cf.waitTime,
		Async: true, Variables: vars}
	out := s.cfg.Outcome(o)
	if out.Kind == ExtensionMissing {
		return ExtensionMissing
	}
	sc, err := scenarioFor(out, o.Application != "")
	if err != nil {
		return UnknownTech
	}
	cl := s.state.newCall(o, out)
	cl.spool = true
	s.mu.Lock()
	s.inflight++
	if s.inflight > s.peak {
		s.peak = s.inflight
	}
	s.mu.Unlock()
	s.wg.Add(1)
	s.runCall(cl, sc, nil)
	return out.Kind
}
