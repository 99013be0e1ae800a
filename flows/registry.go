package flows

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoFlows is returned by NewRegistry and Reload for a directory without
// *.yaml files.
var ErrNoFlows = errors.New("flows: no *.yaml flow files")

// Registry holds the current version of every flow of a directory. Get is
// lock-free; Reload validates every file first and swaps the whole set only
// when all of them are valid, so a bad edit never reaches calls. Calls that
// started on an older version keep their *Flow: versions are immutable.
type Registry struct {
	dir  string
	opts Options
	mu   sync.Mutex // serialises Reload
	cur  atomic.Pointer[map[string]*Flow]
}

// NewRegistry loads dir (every *.yaml) and fails unless every flow is valid.
func NewRegistry(dir string, opts Options) (*Registry, error) {
	r := &Registry{dir: dir, opts: opts}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Get returns the current version of the named flow.
func (r *Registry) Get(name string) (*Flow, bool) {
	f, ok := (*r.cur.Load())[name]
	return f, ok
}

// Names returns the flow names, sorted.
func (r *Registry) Names() []string {
	m := *r.cur.Load()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ErrUnsettled is returned by ReloadSettled when a flow file changed while
// it was being read twice: someone is still writing it.
var ErrUnsettled = errors.New("flows: a flow file is still being written")

// ReloadSettled reloads only when every flow file of the directory reads
// the same twice, settle apart: a file an editor or a script is still
// writing in place is not served half-written (write a temp file and rename
// it, and no reader ever sees a partial file). On ErrUnsettled nothing
// changed; try again later.
func (r *Registry) ReloadSettled(settle time.Duration) error {
	first, err := r.snapshot()
	if err != nil {
		return err
	}
	time.Sleep(settle)
	second, err := r.snapshot()
	if err != nil {
		return err
	}
	if !maps.Equal(first, second) {
		return ErrUnsettled
	}
	return r.Reload()
}

// snapshot is the content hash of every flow file, by path.
func (r *Registry) snapshot() (map[string]string, error) {
	paths, err := flowFiles(r.dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(paths))
	for _, p := range paths {
		src, err := readFlowFile(p, r.opts)
		if err != nil {
			return nil, err
		}
		out[p] = versionOf(src)
	}
	return out, nil
}

// Dir is the directory the registry loads.
func (r *Registry) Dir() string { return r.dir }

// Reload re-reads the directory. On any problem (an *InvalidError or a read
// error) the current set stays in place and the error is returned. A file
// whose bytes did not change keeps its compiled *Flow (same pointer).
func (r *Registry) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	paths, err := flowFiles(r.dir)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w: %s", ErrNoFlows, r.dir)
	}
	var prev func(string) *Flow
	if old := r.cur.Load(); old != nil {
		byFile := map[string]*Flow{}
		for _, f := range *old {
			byFile[f.File] = f
		}
		prev = func(file string) *Flow { return byFile[file] }
	}
	flows, err := loadFiles(paths, r.opts, prev)
	if err != nil {
		return err
	}
	r.cur.Store(&flows)
	return nil
}
