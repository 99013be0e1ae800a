package calllog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// The spool is a directory of append-only segment files, one JSON record per
// line. A segment is named "<writer id>-<seq of its first record>.spool"
// with fixed-width fields, so sorting names sorts segments by the order in
// which their records were appended — across process restarts too, because
// the writer id starts with the writer's start time in hex.
//
// Exactly one segment is "active" (being appended to); every other segment is
// closed and ready for replay. Segments never hold overlapping sequence
// ranges, so replaying closed segments in name order replays records in
// sequence order.
const spoolExt = ".spool"

// maxSpoolLine bounds one record line when reading a segment back.
const maxSpoolLine = 64 << 20

type spool struct {
	dir          string
	segmentBytes int64
	logger       *slog.Logger
	stats        *counters

	mu         sync.Mutex // guards the fields below and every append
	active     *os.File
	activeName string
	activeSize int64
	needSync   bool
	buf        bytes.Buffer
}

func openSpool(dir string, segmentBytes int64, logger *slog.Logger, stats *counters) (*spool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("calllog: create spool dir %s: %w", dir, err)
	}
	s := &spool{dir: dir, segmentBytes: segmentBytes, logger: logger, stats: stats}
	names, err := s.segments("")
	if err != nil {
		return nil, err
	}
	stats.segments.Store(int64(len(names)))
	return s, nil
}

func segmentName(r *record) string {
	return fmt.Sprintf("%s-%020d%s", r.Writer, r.Seq, spoolExt)
}

func (s *spool) encode(recs []record) error {
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf) // Encode ends each record with '\n'
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return fmt.Errorf("calllog: encode spool record: %w", err)
		}
	}
	return nil
}

// appendLocked appends recs to the active segment, creating it if needed. The
// caller holds s.mu. On a write error the segment is truncated back to its
// previous size so a torn record never corrupts the next one.
func (s *spool) appendLocked(recs []record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.encode(recs); err != nil {
		return err
	}
	if s.active == nil {
		name := segmentName(&recs[0])
		f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("calllog: create spool segment: %w", err)
		}
		s.active, s.activeName, s.activeSize = f, name, 0
		s.stats.segments.Add(1)
	}
	n, err := s.active.Write(s.buf.Bytes())
	if err != nil {
		if n > 0 {
			if terr := s.active.Truncate(s.activeSize); terr != nil {
				err = errors.Join(err, fmt.Errorf("truncate torn record: %w", terr))
			}
		}
		return fmt.Errorf("calllog: write spool segment %s: %w", s.activeName, err)
	}
	s.activeSize += int64(n)
	s.needSync = true
	return nil
}

// writeClosed writes recs as a new closed segment (used for a batch that was
// in flight when Redis failed: its records are older than anything appended
// to the active segment meanwhile, and its name sorts before it).
func (s *spool) writeClosed(recs []record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.encode(recs); err != nil {
		return err
	}
	path := filepath.Join(s.dir, segmentName(&recs[0]))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("calllog: create spool segment: %w", err)
	}
	_, werr := f.Write(s.buf.Bytes())
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path) // a partial segment would replay garbage; the caller reports the loss
		return fmt.Errorf("calllog: write spool segment %s: %w", path, err)
	}
	s.stats.segments.Add(1)
	return nil
}

// sync fsyncs the active segment if it has unsynced appends, and rotates it
// when it grew past segmentBytes. Only the writer goroutine calls it.
func (s *spool) sync() error {
	s.mu.Lock()
	f, need := s.active, s.needSync
	s.needSync = false
	s.mu.Unlock()
	if f == nil || !need {
		return nil
	}
	// Sync outside the lock: Append may spill meanwhile; only this goroutine
	// closes files, so f stays open.
	if err := f.Sync(); err != nil {
		return fmt.Errorf("calllog: sync spool segment: %w", err)
	}
	s.mu.Lock()
	big := s.active == f && s.activeSize >= s.segmentBytes
	s.mu.Unlock()
	if big {
		return s.rotate()
	}
	return nil
}

// rotate closes the active segment so it can be replayed; the next append
// starts a new one. Only the writer goroutine calls it.
func (s *spool) rotate() error {
	s.mu.Lock()
	f := s.active
	s.active, s.activeName, s.activeSize, s.needSync = nil, "", 0, false
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("calllog: close spool segment: %w", err)
	}
	return nil
}

// hasActive reports whether the active segment exists; the caller holds s.mu.
func (s *spool) hasActiveLocked() bool { return s.active != nil }

// segments lists segment names in replay order, without the active one
// (unless exclude is "", at open time).
func (s *spool) segments(exclude string) ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("calllog: list spool dir: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, spoolExt) && n != exclude {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// closedSegments lists the segments ready for replay.
func (s *spool) closedSegments() ([]string, error) {
	s.mu.Lock()
	active := s.activeName
	s.mu.Unlock()
	return s.segments(active)
}

// read decodes a closed segment. Corrupt lines (a torn record after a crash)
// are reported and skipped.
func (s *spool) read(name string) ([]record, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, fmt.Errorf("calllog: open spool segment: %w", err)
	}
	defer f.Close()
	var recs []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxSpoolLine)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Writer == "" {
			s.stats.spoolErrors.Add(1)
			s.stats.lost.Add(1)
			s.logger.Error("calllog: corrupt spool record skipped", "segment", name, "line", line, "err", err)
			continue
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("calllog: read spool segment %s: %w", name, err)
	}
	return recs, nil
}

func (s *spool) remove(name string) error {
	err := os.Remove(filepath.Join(s.dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("calllog: remove replayed spool segment: %w", err)
	}
	s.stats.segments.Add(-1)
	return nil
}

// close syncs and closes the active segment.
func (s *spool) close() error { return s.rotate() }
