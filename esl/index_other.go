//go:build !amd64

package esl

func scanEventLines(b []byte, pos int, slots [][2]uint32, i int, f *hotFilter, cand []uint32) (ni, p, ncand, stop int) {
	return scanEventLinesGeneric(b, pos, slots, i, f, cand)
}

func cpuAVX2() bool { return false }
