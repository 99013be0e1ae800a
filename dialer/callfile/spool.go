package callfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrCrossDevice is returned when the temporary directory is not on the
// spool's filesystem: there rename(2) fails with EXDEV and mv falls back to
// a copy, which Asterisk can read half-written (the seed's warning).
var ErrCrossDevice = errors.New("callfile: temporary directory is on another filesystem than the spool")

// ErrExists is returned when a call file of that name is already in
// outgoing/ or outgoing_done/: pbx_spool ignores a new file whose name it
// has just processed, so a name is used once.
var ErrExists = errors.New("callfile: a call file of that name already exists")

// Owner is the uid/gid a call file is given (chown) before it is moved in,
// so Asterisk, running as another user, can read it and utime it (pbx_spool
// moves the mtime to schedule its retries).
type Owner struct{ UID, GID int }

// Spool writes call files into an Asterisk spool directory (astspooldir,
// /var/spool/asterisk): each file is written and fsynced in a temporary
// directory on the same filesystem, given its owner, mode and mtime, then
// renamed into outgoing/, so pbx_spool only ever sees whole files.
type Spool struct {
	Dir  string // the spool directory (holds outgoing/ and outgoing_done/)
	Temp string // the temporary directory (default Dir/tmp)

	owner *Owner
	mode  fs.FileMode
}

// OpenSpool prepares dir for writing: it creates outgoing/, outgoing_done/
// and the temporary directory when missing, and refuses a temporary
// directory on another device than outgoing/ (ErrCrossDevice). mode 0 is
// 0o640; owner nil leaves the file ours.
func OpenSpool(dir, temp string, owner *Owner, mode fs.FileMode) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("callfile: no spool directory")
	}
	if temp == "" {
		temp = filepath.Join(dir, "tmp")
	}
	if mode == 0 {
		mode = 0o640
	}
	for _, d := range []string{filepath.Join(dir, "outgoing"), filepath.Join(dir, "outgoing_done"), temp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("callfile: %w", err)
		}
	}
	out, err := device(filepath.Join(dir, "outgoing"))
	if err != nil {
		return nil, err
	}
	tmp, err := device(temp)
	if err != nil {
		return nil, err
	}
	if out != tmp {
		return nil, fmt.Errorf("%w: %s (device %#x) vs %s (device %#x)", ErrCrossDevice, temp, tmp, filepath.Join(dir, "outgoing"), out)
	}
	return &Spool{Dir: dir, Temp: temp, owner: owner, mode: mode}, nil
}

// device is the st_dev of path.
func device(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("callfile: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("callfile: %s: no device number on this system", path)
	}
	return uint64(st.Dev), nil //nolint:unconvert // Dev is uint32 on some platforms
}

// Outgoing is the path of a file in outgoing/.
func (s *Spool) Outgoing(name string) string { return filepath.Join(s.Dir, "outgoing", name) }

// Done is the path of a file in outgoing_done/.
func (s *Spool) Done(name string) string { return filepath.Join(s.Dir, "outgoing_done", name) }

// checkFileName keeps names to one path element Asterisk will not skip
// (pbx_spool ignores dot files).
func checkFileName(name string) error {
	if name == "" || len(name) > 128 || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("%w: file name %q", ErrInvalid, name)
	}
	for _, r := range name {
		if r < ' ' || r > '~' {
			return fmt.Errorf("%w: file name %q", ErrInvalid, name)
		}
	}
	return nil
}

// Submit writes content as outgoing/name, to run at at (a future mtime
// schedules the call; zero = now). Nothing is in outgoing/ unless Submit
// returns nil: every error means pbx_spool never saw the file.
func (s *Spool) Submit(name string, content []byte, at time.Time) error {
	if err := checkFileName(name); err != nil {
		return err
	}
	for _, p := range []string{s.Outgoing(name), s.Done(name)} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%w: %s", ErrExists, p)
		}
	}
	f, err := os.CreateTemp(s.Temp, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("callfile: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(content); err != nil {
		return fmt.Errorf("callfile: write %s: %w", tmp, err)
	}
	if err := f.Chmod(s.mode); err != nil {
		return fmt.Errorf("callfile: chmod %s: %w", tmp, err)
	}
	if s.owner != nil {
		if err := f.Chown(s.owner.UID, s.owner.GID); err != nil {
			return fmt.Errorf("callfile: chown %s: %w", tmp, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("callfile: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("callfile: close %s: %w", tmp, err)
	}
	if at.IsZero() {
		at = time.Now()
	}
	// After the last write, which would set the mtime again.
	if err := os.Chtimes(tmp, at, at); err != nil {
		return fmt.Errorf("callfile: set mtime of %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.Outgoing(name)); err != nil {
		return fmt.Errorf("callfile: rename into outgoing/: %w", err)
	}
	ok = true
	// The rename is durable once the directory is synced.
	if d, err := os.Open(filepath.Join(s.Dir, "outgoing")); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Pending counts the files in outgoing/: those waiting (a future mtime)
// plus those pbx_spool is calling, since it keeps a file there until its
// last attempt ends.
func (s *Spool) Pending() (int, error) {
	ents, err := os.ReadDir(filepath.Join(s.Dir, "outgoing"))
	if err != nil {
		return 0, fmt.Errorf("callfile: %w", err)
	}
	n := 0
	for _, e := range ents {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n, nil
}

// removeTemps deletes the temporary files left for name by a process that
// died between writing and renaming.
func (s *Spool) removeTemps(name string) {
	m, _ := filepath.Glob(filepath.Join(s.Temp, "."+name+".*.tmp"))
	for _, p := range m {
		_ = os.Remove(p)
	}
}
