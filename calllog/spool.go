package calllog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// The spool is a directory of append-only segment files (see spoolfile.go
// for the line format), shared by the shards of one Writer and locked against
// other writers (lock.go). Each shard writer owns the segments named with its
// writer id, plus the leftovers of earlier processes assigned to it
// (Writer.ownerOf), so an unreachable shard spools and replays only its own
// entries.
//
// Exactly one segment per shard writer is "active" (being appended to);
// every other segment is closed and ready for replay. A shard writer's
// segments never hold overlapping sequence ranges, so replaying them in name
// order replays its records in sequence order.
//
// What replay does is driven by what is on disk: it lists the directory each
// round and goes back to direct writes when no owned segment is left, so
// files removed behind the writer's back end the spooling instead of making it
// spin. A segment that cannot be read (permissions, an over-long line, an I/O
// error) is moved to quarantine/ with a log line and counted; the writer goes
// on with the next one. An operator can move a repaired segment back: replay
// is idempotent.
//
// "<writer id>.mark" files hold the highest sequence number of that writer
// known to be in Redis; a restart uses them to count sequence gaps (entries a
// crashed writer held in memory only).
const (
	spoolExt      = ".spool"
	markExt       = ".mark"
	quarantineDir = "quarantine"
)

// errSegmentGone is wrapped when a segment vanished before it was read.
var errSegmentGone = errors.New("spool segment removed")

type spool struct {
	dir          string
	owner        string            // this shard writer's id
	owns         func(string) bool // does this shard replay that writer id's segments?
	segmentBytes int64
	logger       *slog.Logger
	stats        *counters

	segments atomic.Int64 // owned segment files, as last listed plus created since

	mu            sync.Mutex // guards the fields below and every append
	active        *os.File
	activeName    string
	activeSize    int64
	activeRecords int
	needSync      bool
	buf           bytes.Buffer
	counts        map[string]int  // records in the segments this writer wrote
	skip          map[string]bool // unreadable segments that could not be moved aside
	mark          *os.File        // owner's mark file, opened on first setMark
	markSeq       uint64          // what the owner's mark file says
}

func openSpool(dir, owner string, owns func(string) bool, segmentBytes int64, logger *slog.Logger, stats *counters) (*spool, error) {
	s := &spool{
		dir: dir, owner: owner, owns: owns, segmentBytes: segmentBytes, logger: logger, stats: stats,
		counts: map[string]int{}, skip: map[string]bool{},
	}
	names, err := s.closedSegments()
	if err != nil {
		return nil, err
	}
	s.segments.Store(int64(len(names)))
	return s, nil
}

func (s *spool) encode(buf *bytes.Buffer, recs []record) error {
	buf.Reset()
	for i := range recs {
		if err := appendLine(buf, &recs[i]); err != nil {
			return err
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
	if err := s.encode(&s.buf, recs); err != nil {
		return err
	}
	if s.active == nil {
		name := segmentName(&recs[0])
		f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("calllog: create spool segment: %w", err)
		}
		s.active, s.activeName, s.activeSize, s.activeRecords = f, name, 0, 0
		s.segments.Add(1)
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
	s.activeRecords += len(recs)
	s.needSync = true
	return nil
}

// writeClosed writes recs as a new closed segment, fsynced, and returns how
// many of them it holds. The writer goroutine uses it for a batch that was in
// flight when Redis failed: its records are older than anything appended to
// the active segment meanwhile, and its name sorts before it. If the whole
// batch does not fit (disk full), as many leading records as fit are kept —
// a record is never kept torn — and the error says why the rest is not.
func (s *spool) writeClosed(recs []record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	var buf bytes.Buffer
	if err := s.encode(&buf, recs); err != nil {
		return 0, err
	}
	name := segmentName(&recs[0])
	path := filepath.Join(s.dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return 0, fmt.Errorf("calllog: create spool segment: %w", err)
	}
	kept := len(recs)
	_, werr := f.Write(buf.Bytes())
	if werr != nil {
		kept = s.writePrefix(f, recs)
	}
	serr := f.Sync()
	cerr := f.Close()
	if kept == 0 || serr != nil || cerr != nil {
		_ = os.Remove(path) // the caller reports the loss
		return 0, fmt.Errorf("calllog: write spool segment %s: %w", path, errors.Join(werr, serr, cerr))
	}
	s.mu.Lock()
	s.counts[name] = kept
	s.mu.Unlock()
	s.segments.Add(1)
	if werr != nil {
		return kept, fmt.Errorf("calllog: write spool segment %s: %w", path, werr)
	}
	return kept, nil
}

// writePrefix rewrites f with as many leading records of recs as fit, one at
// a time, and returns how many it kept.
func (s *spool) writePrefix(f *os.File, recs []record) int {
	if f.Truncate(0) != nil {
		return 0
	}
	var size int64
	var buf bytes.Buffer
	for i := range recs {
		buf.Reset()
		if appendLine(&buf, &recs[i]) != nil {
			return i
		}
		if _, err := f.WriteAt(buf.Bytes(), size); err != nil {
			if f.Truncate(size) != nil {
				return 0
			}
			return i
		}
		size += int64(buf.Len())
	}
	return len(recs)
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
	// Sync outside the lock: Append may write meanwhile; only this goroutine
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
// starts a new one. If the file was removed while open (its records went into
// an unlinked file), its records are counted lost. Only the writer goroutine
// calls it.
func (s *spool) rotate() error {
	s.mu.Lock()
	f, name, n := s.active, s.activeName, s.activeRecords
	s.active, s.activeName, s.activeSize, s.activeRecords, s.needSync = nil, "", 0, 0, false
	if f != nil {
		s.counts[name] = n
	}
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	if fi, err := f.Stat(); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
			s.mu.Lock()
			delete(s.counts, name) // counted here, not again as vanished
			s.mu.Unlock()
			s.stats.lost.Add(uint64(n))
			s.logger.Error("calllog: active spool segment was removed by someone else; its entries are LOST",
				"segment", name, "entries", n, "dir", s.dir)
		}
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("calllog: close spool segment: %w", err)
	}
	return nil
}

// hasActiveLocked reports whether the active segment exists; the caller
// holds s.mu.
func (s *spool) hasActiveLocked() bool { return s.active != nil }

// closedSegments lists the owned segments ready for replay, in replay order.
func (s *spool) closedSegments() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("calllog: list spool dir: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, spoolExt) || n == s.activeName || s.skip[n] {
			continue
		}
		if id := segmentWriter(n); id == s.owner || s.owns(id) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	active := 0
	if s.active != nil {
		active = 1
	}
	s.segments.Store(int64(len(names) + active))
	return names, nil
}

// vanished returns this writer's own closed segments that are no longer on
// disk (listed is what closedSegments just returned), with their record
// counts, and forgets them.
func (s *spool) vanished(listed []string) map[string]int {
	on := make(map[string]bool, len(listed))
	for _, n := range listed {
		on[n] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone map[string]int
	for name, n := range s.counts {
		if !on[name] && name != s.activeName {
			if gone == nil {
				gone = map[string]int{}
			}
			gone[name] = n
			delete(s.counts, name)
		}
	}
	return gone
}

// read decodes a closed segment. Corrupt lines (checksum mismatch, a torn
// record after a crash) are counted, logged and skipped. An error wrapping
// errSegmentGone means the file vanished; any other error means it cannot be
// read and should be quarantined.
func (s *spool) read(name string) ([]record, error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", errSegmentGone, name)
	}
	if err != nil {
		return nil, fmt.Errorf("calllog: open spool segment: %w", err)
	}
	defer f.Close()
	var recs []record
	br := bufio.NewReaderSize(f, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		for {
			chunk, err := br.ReadSlice('\n')
			line = append(line, chunk...)
			if len(line) > maxSpoolLine {
				return nil, fmt.Errorf("calllog: spool segment %s line %d longer than %d bytes", name, n, maxSpoolLine)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("calllog: read spool segment %s: %w", name, err)
			}
			break
		}
		if len(line) == 0 {
			return recs, nil
		}
		body := bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(body)) == 0 {
			continue
		}
		r, err := decodeLine(body)
		if err != nil {
			s.stats.corrupt.Add(1)
			s.logger.Error("calllog: corrupt spool record skipped", "segment", name, "line", n, "err", err)
			continue
		}
		recs = append(recs, r)
	}
}

// quarantine moves an unreadable segment to quarantine/ so it stops blocking
// replay. If even that fails, the segment is skipped for this process's life.
func (s *spool) quarantine(name string, cause error) {
	s.stats.quarantined.Add(1)
	s.mu.Lock()
	delete(s.counts, name) // counted as quarantined, not as vanished
	s.mu.Unlock()
	qdir := filepath.Join(s.dir, quarantineDir)
	err := os.MkdirAll(qdir, 0o755)
	if err == nil {
		err = os.Rename(filepath.Join(s.dir, name), filepath.Join(qdir, name))
	}
	if err != nil {
		s.mu.Lock()
		s.skip[name] = true
		s.mu.Unlock()
		s.logger.Error("calllog: unreadable spool segment skipped (could not move it aside)",
			"segment", name, "cause", cause, "err", err)
	} else {
		s.logger.Error("calllog: unreadable spool segment quarantined; writing continues",
			"segment", name, "moved_to", qdir, "cause", cause)
	}
	s.segments.Add(-1)
}

// remove deletes a replayed segment.
func (s *spool) remove(name string) error {
	err := os.Remove(filepath.Join(s.dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("calllog: remove replayed spool segment: %w", err)
	}
	s.mu.Lock()
	delete(s.counts, name)
	s.mu.Unlock()
	s.segments.Add(-1)
	return nil
}

// ownCount is the number of records this writer put in segment name, if it
// wrote it.
func (s *spool) ownCount(name string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.counts[name]
	return n, ok
}

// setMark records that every entry of writer id up to seq is in Redis. The
// owner's mark file stays open (one pwrite when it changes, no fsync: it must
// survive a process crash, not a power loss).
func (s *spool) setMark(id string, seq uint64) error {
	if id != s.owner {
		line := fmt.Sprintf("%020d\n", seq)
		return os.WriteFile(filepath.Join(s.dir, id+markExt), []byte(line), 0o644)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setMarkLocked(id, seq)
}

// setMarkLocked is setMark of the owner's mark with s.mu held; it writes
// nothing when the file already says seq or more.
func (s *spool) setMarkLocked(id string, seq uint64) error {
	if id != s.owner {
		return fmt.Errorf("calllog: setMarkLocked for writer %s, not the owner", id)
	}
	if seq <= s.markSeq {
		return nil
	}
	if s.mark == nil {
		f, err := os.OpenFile(filepath.Join(s.dir, id+markExt), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("calllog: open mark file: %w", err)
		}
		s.mark = f
	}
	if _, err := s.mark.WriteAt(fmt.Appendf(nil, "%020d\n", seq), 0); err != nil {
		return fmt.Errorf("calllog: write mark file: %w", err)
	}
	s.markSeq = seq
	return nil
}

// readMark returns writer id's mark (0 if it has none).
func (s *spool) readMark(id string) uint64 {
	b, err := os.ReadFile(filepath.Join(s.dir, id+markExt))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// dropForeignMarks removes the mark files of earlier writers this shard owns
// (called once none of their segments is left).
func (s *spool) dropForeignMarks() {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		id := strings.TrimSuffix(n, markExt)
		if strings.HasSuffix(n, markExt) && id != s.owner && s.owns(id) {
			_ = os.Remove(filepath.Join(s.dir, n))
		}
	}
}

// close syncs and closes the active segment; if no owned segment is left, the
// owner's mark file goes too (nothing to check at the next start).
func (s *spool) close() error {
	err := s.rotate()
	names, lerr := s.closedSegments()
	s.mu.Lock()
	if s.mark != nil {
		err = errors.Join(err, s.mark.Close())
		s.mark = nil
	}
	s.mu.Unlock()
	if lerr == nil && len(names) == 0 {
		_ = os.Remove(filepath.Join(s.dir, s.owner+markExt))
	}
	return err
}
