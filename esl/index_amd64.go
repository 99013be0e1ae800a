package esl

// scanEventLines is scanEventLinesGeneric in assembly (index_amd64.s): one
// vector pass finds the line ends. A bytes.IndexByte per ~36-byte line
// paid a call and its setup each time, and the Go loop around it as much
// again: together most of a parse (see BENCHMARKS.md).
//
//go:noescape
func scanEventLines(b []byte, pos int, slots [][2]uint32, i int, f *hotFilter, cand []uint32) (ni, p, ncand, stop int)

// cpuAVX2 reports whether scanEventLines may use AVX2 (index_amd64.s).
func cpuAVX2() bool
