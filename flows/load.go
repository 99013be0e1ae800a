package flows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Options tune loading.
type Options struct {
	// Sounds is where prompt files are looked up: a prompt
	// "new_sales/1000.wav" must exist as new_sales/1000.wav in it.
	Sounds fs.FS
	// SoundsDir is the directory opened as Sounds when Sounds is nil. For
	// the file loaders (Load, LoadDir, LoadFiles, NewRegistry) empty means
	// the sounds directory beside the flow file's directory
	// (flows/sales.yaml -> sounds/); Parse, which has no file, then reports
	// that prompts cannot be checked.
	SoundsDir string
	// SkipPromptCheck disables the prompt file check (e.g. ivrctl graph, or
	// tests without the sound files).
	SkipPromptCheck bool
	// MaxFileBytes refuses flow files larger than this; 0 means
	// DefaultMaxFileBytes.
	MaxFileBytes int64

	soundsName string // how messages name Sounds (its directory)
}

// forFile returns the options a file loader parses path with: without
// Sounds or SoundsDir, the sounds directory beside the file's directory.
func (o Options) forFile(path string) Options {
	if o.Sounds == nil && o.SoundsDir == "" {
		dir := filepath.Join(filepath.Dir(path), "..", "sounds")
		o.Sounds, o.soundsName = os.DirFS(dir), dir
	}
	return o
}

// DefaultMaxFileBytes caps a flow file: a flow is a few KiB of YAML; a file
// far larger is a mistake, not a flow, and is not read into memory.
const DefaultMaxFileBytes = 1 << 20

// ErrTooLarge is wrapped by the error for a flow file over MaxFileBytes.
var ErrTooLarge = errors.New("flows: flow file too large")

// readFlowFile reads path, refusing files over the cap before reading them.
func readFlowFile(path string, opts Options) ([]byte, error) {
	limit := opts.MaxFileBytes
	if limit <= 0 {
		limit = DefaultMaxFileBytes
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	if int64(len(src)) > limit {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrTooLarge, path, limit)
	}
	return src, nil
}

// Load reads, validates and compiles one flow file.
func Load(path string, opts Options) (*Flow, error) {
	src, err := readFlowFile(path, opts)
	if err != nil {
		return nil, err
	}
	return Parse(path, src, opts.forFile(path))
}

// Parse validates and compiles src. name is the file name used in messages.
// Parse reads nothing but src and the sounds the options give (see Options).
// Every problem found is returned in one *InvalidError.
func Parse(name string, src []byte, opts Options) (*Flow, error) {
	c := &compiler{
		reporter: reporter{file: name},
		opts:     opts,
		writes:   map[string]bool{},
	}
	f := c.compile(src)
	if err := newInvalid(c.probs); err != nil {
		return nil, err
	}
	return f, nil
}

// LoadDir loads every *.yaml file of dir. See LoadFiles.
func LoadDir(dir string, opts Options) (map[string]*Flow, error) {
	paths, err := flowFiles(dir)
	if err != nil {
		return nil, err
	}
	return LoadFiles(paths, opts)
}

func flowFiles(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("flows: %w", err)
	}
	sort.Strings(paths)
	return paths, nil
}

// LoadFiles loads the given files and returns the flows by name. The map
// holds every flow that is valid even when err is not nil; err is an
// *InvalidError listing the problems of all the others (including two files
// declaring the same flow name), or a read error.
func LoadFiles(paths []string, opts Options) (map[string]*Flow, error) {
	return loadFiles(paths, opts, nil)
}

// loadFiles is LoadFiles with an optional cache of already compiled versions
// (by file), so that an unchanged file is not compiled again.
func loadFiles(paths []string, opts Options, prev func(file string) *Flow) (map[string]*Flow, error) {
	out := map[string]*Flow{}
	var probs []Problem
	var readErrs []error
	for _, p := range paths {
		src, err := readFlowFile(p, opts)
		if err != nil {
			readErrs = append(readErrs, err)
			continue
		}
		var f *Flow
		if prev != nil {
			if old := prev(p); old != nil && old.Version == versionOf(src) {
				f = old
			}
		}
		if f == nil {
			f, err = Parse(p, src, opts.forFile(p))
			var inv *InvalidError
			if errors.As(err, &inv) {
				probs = append(probs, inv.Problems...)
				continue
			} else if err != nil {
				readErrs = append(readErrs, err)
				continue
			}
		}
		if other, dup := out[f.Name]; dup {
			probs = append(probs, Problem{File: p, Line: f.nameLine, Msg: fmt.Sprintf("flow name %q is already used by %s", f.Name, other.File)})
			continue
		}
		out[f.Name] = f
	}
	if len(readErrs) > 0 {
		if inv := newInvalid(probs); inv != nil {
			readErrs = append(readErrs, inv)
		}
		return out, errors.Join(readErrs...)
	}
	return out, newInvalid(probs)
}

func versionOf(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:6])
}
