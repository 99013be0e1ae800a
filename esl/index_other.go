//go:build !amd64

package esl

func scanEventLines(b []byte, pos int, slots [][2]uint32, i int, first *[256]byte, cand []uint32) (ni, p, ncand, stop int) {
	return scanEventLinesGeneric(b, pos, slots, i, first, cand)
}
