//go:build !amd64

package esl

func scanEventLines(b []byte, pos int, ends []uint32, i int, f *hotFilter, cand []uint32) (ni, p, ncand, stop int) {
	return scanEventLinesGeneric(b, pos, ends, i, f, cand)
}

func cpuAVX2() bool { return false }

func packEnds(dst []byte, ends []uint32) { packEndsGeneric(dst, ends) }
