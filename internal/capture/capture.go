// Package capture feeds recorded protocol bytes to parsers in tests.
//
// The captures (FreeSWITCH's *.rx.bin, Asterisk's *.s2c.raw) are copied
// into each package's testdata/, so Load and Glob fail the test when one is
// missing instead of skipping it: a fresh clone runs every test.
//
// A parser must give the same messages however the bytes arrive, so
// ForEachChunking runs a subtest per Chunking: the whole capture in one
// Read, one byte per Read, seven bytes per Read (splits headers, separators
// and bodies at every offset over a few messages) and seeded random sizes.
//
//	data := capture.Load(t, "testdata/freeswitch/s1_outbound_full.rx.bin")
//	capture.ForEachChunking(t, data, func(t *testing.T, r io.Reader) {
//		rd := esl.NewReader(r, 0)
//		...
//	})
package capture

import (
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Load returns the contents of the capture at path (relative to the test's
// package directory), failing the test if it cannot be read.
func Load(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("capture: %v (captures are copied into testdata/; see its README)", err)
	}
	return b
}

// Glob returns the files matching pattern, failing the test when there are
// none (a pattern that matches nothing would make a loop over captures pass
// vacuously).
func Glob(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("capture: no file matches %s", pattern)
	}
	return files
}

// Chunking is one way of cutting a byte stream into Reads.
type Chunking struct {
	Name string
	// Size is the largest Read: 0 means everything at once, a negative
	// Size random sizes between 1 and -Size.
	Size int
}

// Chunkings are the cuts ForEachChunking runs: whole, 1 byte, 7 bytes and
// random sizes up to 4 KiB.
func Chunkings() []Chunking {
	return []Chunking{{"whole", 0}, {"1byte", 1}, {"7bytes", 7}, {"random", -4096}}
}

// Reader returns a reader of data cut as c says. Random sizes come from a
// generator seeded by data itself, so a failure repeats.
func (c Chunking) Reader(data []byte) io.Reader {
	switch {
	case c.Size == 0:
		return &chunkReader{data: data, next: func() int { return len(data) }}
	case c.Size > 0:
		return NewChunkReader(data, c.Size)
	}
	h := fnv.New64a()
	h.Write(data)
	return NewRandomReader(data, -c.Size, h.Sum64())
}

// ForEachChunking runs fn in a subtest per Chunking, each with its own
// reader of data.
func ForEachChunking(t *testing.T, data []byte, fn func(t *testing.T, r io.Reader)) {
	t.Helper()
	for _, c := range Chunkings() {
		t.Run(c.Name, func(t *testing.T) { fn(t, c.Reader(data)) })
	}
}

// NewChunkReader returns a reader giving at most n bytes of data per Read.
func NewChunkReader(data []byte, n int) io.Reader {
	if n <= 0 {
		panic(fmt.Sprintf("capture: chunk size %d", n))
	}
	return &chunkReader{data: data, next: func() int { return n }}
}

// NewRandomReader returns a reader giving between 1 and maxChunk bytes of
// data per Read, sizes drawn from a generator seeded with seed.
func NewRandomReader(data []byte, maxChunk int, seed uint64) io.Reader {
	if maxChunk <= 0 {
		panic(fmt.Sprintf("capture: chunk size %d", maxChunk))
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &chunkReader{data: data, next: func() int { return 1 + rng.IntN(maxChunk) }}
}

type chunkReader struct {
	data []byte
	next func() int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.next())], c.data)
	c.data = c.data[n:]
	return n, nil
}
