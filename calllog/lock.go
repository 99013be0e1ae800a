package calllog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrSpoolLocked is returned by NewWriter when another Writer — in this
// process or another, e.g. a new ivrd starting while the old one drains —
// holds the spool directory. Two writers on one directory would replay and
// remove each other's segments.
var ErrSpoolLocked = errors.New("calllog: spool directory in use by another writer")

// spoolLockName is the lock file inside the spool directory.
const spoolLockName = ".lock"

// lockSpoolDir takes an exclusive, non-blocking flock(2) on dir/.lock. The
// lock belongs to the open file description, so the kernel releases it when
// the process dies (SIGKILL included) and a second open in the same process
// conflicts too.
func lockSpoolDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, spoolLockName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("calllog: open spool lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (is another instance still running or draining? give each instance its own spool directory)", ErrSpoolLocked, dir)
		}
		return nil, fmt.Errorf("calllog: lock spool dir %s: %w", dir, err)
	}
	return f, nil
}
