#include "textflag.h"

// func scanEventLines(b []byte, pos int, slots [][2]uint32, i int, first *[256]byte, cand []uint32) (ni, p, ncand, stop int)
//
// See scanEventLinesGeneric (index.go) for the contract; this is the same
// loop with the line ends found sixteen bytes at a time (SSE2, which every
// amd64 has): compare, take the mask, handle one line per set bit.
//
// Registers: SI b, BX len(b), DX start of the current 16-byte block, R8
// start of the current line, DI slots, AX next slot, R9 first, R10 cand,
// R13 the block's newline mask; CX, R11, R12 scratch. ncand is kept in its
// result slot (candidates are rare).
TEXT ·scanEventLines(SB), NOSPLIT, $0-128
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	MOVQ pos+24(FP), DX
	MOVQ slots_base+32(FP), DI
	MOVQ i+56(FP), AX
	MOVQ first+64(FP), R9
	MOVQ cand_base+72(FP), R10
	MOVQ $0, ncand+112(FP)
	MOVQ DX, R8
	MOVQ $0x0a0a0a0a0a0a0a0a, R11
	MOVQ R11, X0
	PUNPCKLQDQ X0, X0

block:
	LEAQ 16(DX), R11
	CMPQ R11, BX
	JA tail
	MOVOU (SI)(DX*1), X1
	PCMPEQB X0, X1
	PMOVMSKB X1, R13
	TESTL R13, R13
	JZ nextblock

bits:
	BSFL R13, CX
	ADDQ DX, CX             // CX: offset of this '\n', the line's end
	CMPQ CX, R8
	JEQ blank
	CMPQ AX, slots_len+40(FP)
	JAE full
	MOVL R8, (DI)(AX*8)
	MOVL CX, 4(DI)(AX*8)
	// Hot-header candidate: longer than 8 bytes, first two bytes as first says.
	MOVQ CX, R11
	SUBQ R8, R11
	CMPQ R11, $8
	JLS nexthot
	MOVBLZX (SI)(R8*1), R11
	MOVBLZX (R9)(R11*1), R11
	TESTL R11, R11
	JZ nexthot
	MOVBLZX 1(SI)(R8*1), R12
	ORL $0x20, R12
	CMPL R12, R11
	JNE nexthot
	MOVQ ncand+112(FP), R11
	CMPQ R11, cand_len+80(FP)
	JAE full                // slot AX is written again on the next call
	MOVL AX, (R10)(R11*4)
	INCQ R11
	MOVQ R11, ncand+112(FP)

nexthot:
	INCQ AX
	LEAQ 1(CX), R8
	LEAL -1(R13), R11
	ANDL R11, R13
	JNZ bits

nextblock:
	ADDQ $16, DX
	JMP block

tail:
	// Fewer than 16 bytes left: build their mask a byte at a time.
	CMPQ DX, BX
	JAE end
	XORL R13, R13
	MOVQ DX, R11
	MOVL $1, R12

tailbyte:
	CMPB (SI)(R11*1), $0x0a
	JNE tailnext
	ORL R12, R13

tailnext:
	SHLL $1, R12
	INCQ R11
	CMPQ R11, BX
	JB tailbyte
	TESTL R13, R13
	JNZ bits
	JMP end

blank:
	MOVQ AX, ni+96(FP)
	MOVQ R8, p+104(FP)
	MOVQ $1, stop+120(FP)
	RET

full:
	MOVQ AX, ni+96(FP)
	MOVQ R8, p+104(FP)
	MOVQ $2, stop+120(FP)
	RET

end:
	MOVQ AX, ni+96(FP)
	MOVQ R8, p+104(FP)
	MOVQ $0, stop+120(FP)
	RET
