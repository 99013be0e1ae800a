#include "textflag.h"

// func scanEventLines(b []byte, pos int, ends []uint32, i int, f *hotFilter, cand []uint32) (ni, p, ncand, stop int)
//
// See scanEventLinesGeneric (index.go) for the contract; this is the same
// loop with the line ends found 64 bytes at a time (two 32-byte AVX2
// compares when f.avx2, else four 16-byte SSE2 ones, which every amd64
// has, make one 64-bit mask), then 16 at a time, then a byte at a time for
// the last few; every set bit of the mask is one line.
//
// Registers: SI b, BX len(b), DX start of the current block, R12 its
// length, R8 start of the current line, DI ends, AX next slot, R9 f,
// R10 cand, R13 the block's newline mask, X0 sixteen '\n'; CX, R11 and
// R14 scratch (R14 is g only in Go's internal ABI, which restores it on
// return from this ABI0 function). ncand is kept in its result slot (candidates are rare).
TEXT ·scanEventLines(SB), NOSPLIT, $0-128
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), BX
	MOVQ pos+24(FP), DX
	MOVQ ends_base+32(FP), DI
	MOVQ i+56(FP), AX
	MOVQ f+64(FP), R9
	MOVQ cand_base+72(FP), R10
	MOVQ $0, ncand+112(FP)
	MOVQ DX, R8
	MOVQ $0x0a0a0a0a0a0a0a0a, R11
	MOVQ R11, X0
	PUNPCKLQDQ X0, X0
	CMPB 384(R9), $0
	JEQ block64
	VPBROADCASTB X0, Y0

block64:
	LEAQ 64(DX), R11
	CMPQ R11, BX
	JA block16
	CMPB 384(R9), $0
	JEQ sse64
	VMOVDQU (SI)(DX*1), Y1
	VMOVDQU 32(SI)(DX*1), Y2
	VPCMPEQB Y0, Y1, Y1
	VPCMPEQB Y0, Y2, Y2
	VPMOVMSKB Y1, R13
	VPMOVMSKB Y2, R11
	SHLQ $32, R11
	ORQ R11, R13
	MOVL $64, R12
	JNZ bits
	ADDQ $64, DX
	JMP block64

sse64:
	MOVOU (SI)(DX*1), X1
	MOVOU 16(SI)(DX*1), X2
	MOVOU 32(SI)(DX*1), X3
	MOVOU 48(SI)(DX*1), X4
	PCMPEQB X0, X1
	PCMPEQB X0, X2
	PCMPEQB X0, X3
	PCMPEQB X0, X4
	PMOVMSKB X1, R13
	PMOVMSKB X2, R11
	PMOVMSKB X3, CX
	PMOVMSKB X4, R12
	SHLQ $16, R11
	ORQ R11, R13
	SHLQ $32, CX
	ORQ CX, R13
	SHLQ $48, R12
	ORQ R12, R13
	MOVL $64, R12
	JNZ bits
	ADDQ $64, DX
	JMP block64

block16:
	// Past the 256-bit loop for good (DX only grows): clear the upper
	// halves before the 128-bit code, as every exit does.
	CMPB 384(R9), $0
	JEQ 2(PC)
	VZEROUPPER
	LEAQ 16(DX), R11
	CMPQ R11, BX
	JA tail
	MOVOU (SI)(DX*1), X1
	PCMPEQB X0, X1
	PMOVMSKB X1, R13
	MOVL $16, R12
	TESTQ R13, R13
	JNZ bits
	ADDQ $16, DX
	JMP block16

tail:
	// Fewer than 16 bytes left: build their mask a byte at a time. (The
	// block is then taken as 16 long, which ends the scan.)
	CMPQ DX, BX
	JAE end
	XORL R13, R13
	MOVQ DX, R11
	MOVL $1, CX

tailbyte:
	CMPB (SI)(R11*1), $0x0a
	JNE tailnext
	ORQ CX, R13

tailnext:
	SHLQ $1, CX
	INCQ R11
	CMPQ R11, BX
	JB tailbyte
	MOVL $16, R12
	TESTQ R13, R13
	JNZ bits
	JMP end

bits:
	BSFQ R13, CX
	ADDQ DX, CX             // CX: offset of this '\n', the line's end
	CMPQ CX, R8
	JEQ blank
	CMPQ AX, ends_len+40(FP)
	JAE full
	MOVL CX, (DI)(AX*4)
	// Hot-header candidate (hotFilter): first byte, second, length, first word.
	MOVBLZX (SI)(R8*1), R11
	MOVBLZX (R9)(R11*1), R11
	TESTL R11, R11
	JZ nextline
	MOVBLZX 1(SI)(R8*1), R14 // in b: the line is not empty
	ORL $0x20, R14
	CMPB R14, 256(R9)(R11*1)
	JNE nextline
	LEAQ 8(R8), R14
	CMPQ R14, CX
	JAE nextline
	MOVQ (SI)(R8*1), R14
	ORQ 264(R9), R14
	SHLQ $4, R11
	ADDQ R9, R11
	CMPQ R14, 272(R11)
	JEQ candidate
	CMPQ R14, 280(R11)
	JNE nextline

candidate:
	MOVQ ncand+112(FP), R11
	CMPQ R11, cand_len+80(FP)
	JAE full                // slot AX is written again on the next call
	MOVL AX, (R10)(R11*4)
	INCQ R11
	MOVQ R11, ncand+112(FP)

nextline:
	INCQ AX
	LEAQ 1(CX), R8
	LEAQ -1(R13), R11
	ANDQ R11, R13
	JNZ bits
	ADDQ R12, DX
	JMP block64

// The three exits differ only in stop: the blank line (1), the index full
// (2), the end of the bytes (0).
blank:
	MOVQ $1, R10
	JMP  exit

full:
	MOVQ $2, R10
	JMP  exit

end:
	MOVQ $0, R10

exit:
	CMPB 384(R9), $0
	JEQ 2(PC)
	VZEROUPPER
	MOVQ AX, ni+96(FP)
	MOVQ R8, p+104(FP)
	MOVQ R10, stop+120(FP)
	RET

// func cpuAVX2() bool
//
// Whether the CPU has AVX2 and the OS saves the YMM registers (CPUID
// leaf 1: OSXSAVE and AVX; XCR0: XMM and YMM state; leaf 7: AVX2).
TEXT ·cpuAVX2(SB), NOSPLIT, $0-1
	XORL AX, AX
	XORL CX, CX
	CPUID
	CMPL AX, $7
	JB noavx2
	MOVL $1, AX
	XORL CX, CX
	CPUID
	ANDL $0x18000000, CX
	CMPL CX, $0x18000000
	JNE noavx2
	XORL CX, CX
	XGETBV
	ANDL $6, AX
	CMPL AX, $6
	JNE noavx2
	MOVL $7, AX
	XORL CX, CX
	CPUID
	BTL $5, BX
	JCC noavx2
	MOVB $1, ret+0(FP)
	RET

noavx2:
	MOVB $0, ret+0(FP)
	RET

// func packEnds8(dst *byte, src *uint32, n int)
//
// Stores src[:n] (n >= 8, every value below 1<<16) as little-endian
// uint16s at dst, eight a step; the last step, when n is not a multiple
// of 8, packs the last eight again, overlapping the step before (it writes
// the same values there). SSE2 has no unsigned dword-to-word pack, so each
// value is moved into the signed range (-0x8000), packed with signed
// saturation, which then loses nothing, and moved back (the top bit
// flipped).
TEXT ·packEnds8(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	LEAQ -32(SI)(CX*4), R8  // the last eight values
	LEAQ -16(DI)(CX*2), R9  // and where they go
	MOVQ $0x0000800000008000, AX
	MOVQ AX, X6
	PUNPCKLQDQ X6, X6
	MOVQ $0x8000800080008000, AX
	MOVQ AX, X7
	PUNPCKLQDQ X7, X7

pack8:
	CMPQ SI, R8
	JBE step
	MOVQ R8, SI             // the overlapping last step
	MOVQ R9, DI

step:
	MOVOU (SI), X1
	MOVOU 16(SI), X2
	PSUBL X6, X1
	PSUBL X6, X2
	PACKSSLW X2, X1
	PXOR X7, X1
	MOVOU X1, (DI)
	CMPQ SI, R8
	JEQ packed
	ADDQ $32, SI
	ADDQ $16, DI
	JMP pack8

packed:
	RET
