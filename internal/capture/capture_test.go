package capture

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// readSizes reads r to the end and returns the size of every Read.
func readSizes(t *testing.T, r io.Reader) ([]byte, []int) {
	t.Helper()
	var out []byte
	var sizes []int
	buf := make([]byte, 10_000)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out = append(out, buf[:n]...)
			sizes = append(sizes, n)
		}
		if err == io.EOF {
			return out, sizes
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("Read returned 0, nil")
		}
	}
}

func TestChunkingsDeliverEveryByte(t *testing.T) {
	data := bytes.Repeat([]byte("Content-Type: command/reply\nReply-Text: +OK\n\n"), 300)
	ran := map[string]bool{}
	ForEachChunking(t, data, func(t *testing.T, r io.Reader) {
		got, sizes := readSizes(t, r)
		if !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, want the %d of data", len(got), len(data))
		}
		name := filepath.Base(t.Name())
		ran[name] = true
		maxSize := 0
		for _, s := range sizes {
			maxSize = max(maxSize, s)
		}
		switch name {
		case "whole":
			if len(sizes) != 2 { // buf holds 10,000 of 13,500 bytes
				t.Errorf("whole: %d reads", len(sizes))
			}
		case "1byte":
			if maxSize != 1 {
				t.Errorf("1byte: a read of %d", maxSize)
			}
		case "7bytes":
			if maxSize != 7 || len(sizes) != (len(data)+6)/7 {
				t.Errorf("7bytes: %d reads, max %d", len(sizes), maxSize)
			}
		case "random":
			distinct := map[int]bool{}
			for _, s := range sizes {
				distinct[s] = true
			}
			if len(distinct) < 3 || maxSize > 4096 {
				t.Errorf("random: %d distinct sizes, max %d", len(distinct), maxSize)
			}
		}
	})
	if len(ran) != 4 {
		t.Errorf("ran %v", ran)
	}
}

func TestRandomIsRepeatable(t *testing.T) {
	data := bytes.Repeat([]byte{'x'}, 5000)
	_, a := readSizes(t, NewRandomReader(data, 100, 42))
	_, b := readSizes(t, NewRandomReader(data, 100, 42))
	if len(a) != len(b) {
		t.Fatalf("%d vs %d reads", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("read %d: %d vs %d", i, a[i], b[i])
		}
	}
}

func TestLoadAndGlob(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.rx.bin")
	if err := os.WriteFile(p, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := string(Load(t, p)); got != "abc" {
		t.Errorf("Load = %q", got)
	}
	if got := Glob(t, filepath.Join(dir, "*.rx.bin")); len(got) != 1 || got[0] != p {
		t.Errorf("Glob = %v", got)
	}
	// A missing capture fails the test; it never skips.
	for name, fn := range map[string]func(tb testing.TB){
		"Load": func(tb testing.TB) { Load(tb, filepath.Join(dir, "missing.rx.bin")) },
		"Glob": func(tb testing.TB) { Glob(tb, filepath.Join(dir, "*.nothing")) },
	} {
		rec := &recorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); fn(rec) }()
		<-done
		if !rec.failed || rec.skipped {
			t.Errorf("%s of a missing capture: failed=%v skipped=%v", name, rec.failed, rec.skipped)
		}
	}
}

// recorder notes Fatal/Skip instead of ending the real test.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	runtime.Goexit()
}
func (r *recorder) Skipf(string, ...any) {
	r.skipped = true
	runtime.Goexit()
}
