package esl

// scanEventLines is scanEventLinesGeneric in assembly (index_amd64.s): one
// vector pass finds the line ends. A bytes.IndexByte per ~36-byte line
// paid a call and its setup each time, and the Go loop around it as much
// again: together most of a parse (see BENCHMARKS.md).
//
//go:noescape
func scanEventLines(b []byte, pos int, ends []uint32, i int, f *hotFilter, cand []uint32) (ni, p, ncand, stop int)

// cpuAVX2 reports whether scanEventLines may use AVX2 (index_amd64.s).
func cpuAVX2() bool

// packEnds8 is packEnds in assembly (index_amd64.s) for eight ends or
// more, eight a step: the Go loop was ~7 instructions a line, more than
// the line scan's share of it.
//
//go:noescape
func packEnds8(dst *byte, src *uint32, n int)

// packEnds stores ends, each below 1<<16, as little-endian uint16s in
// dst (two bytes each).
func packEnds(dst []byte, ends []uint32) {
	if n := len(ends); n >= 8 {
		_ = dst[narrowEnd*n-1]
		packEnds8(&dst[0], &ends[0], n)
		return
	}
	packEndsGeneric(dst, ends)
}
