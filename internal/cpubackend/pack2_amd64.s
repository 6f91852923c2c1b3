#include "textflag.h"

// Loads the first 16 floats of the 16 columns of B (column j at SI + j·lds bytes, R8 = lds,
// R9 = 3·lds, R10 = 5·lds, R11 = 7·lds, R12 = SI + 8·lds) into Z0..Z15.
#define LOADCOLS16 \
	VMOVUPS (SI), Z0 \
	VMOVUPS (SI)(R8*1), Z1 \
	VMOVUPS (SI)(R8*2), Z2 \
	VMOVUPS (SI)(R9*1), Z3 \
	VMOVUPS (SI)(R8*4), Z4 \
	VMOVUPS (SI)(R10*1), Z5 \
	VMOVUPS (SI)(R9*2), Z6 \
	VMOVUPS (SI)(R11*1), Z7 \
	VMOVUPS (R12), Z8 \
	VMOVUPS (R12)(R8*1), Z9 \
	VMOVUPS (R12)(R8*2), Z10 \
	VMOVUPS (R12)(R9*1), Z11 \
	VMOVUPS (R12)(R8*4), Z12 \
	VMOVUPS (R12)(R10*1), Z13 \
	VMOVUPS (R12)(R9*2), Z14 \
	VMOVUPS (R12)(R11*1), Z15

// As LOADCOLS16, but only the floats selected by K1 are read; the others are zero.
#define LOADCOLS16Z \
	VMOVUPS.Z (SI), K1, Z0 \
	VMOVUPS.Z (SI)(R8*1), K1, Z1 \
	VMOVUPS.Z (SI)(R8*2), K1, Z2 \
	VMOVUPS.Z (SI)(R9*1), K1, Z3 \
	VMOVUPS.Z (SI)(R8*4), K1, Z4 \
	VMOVUPS.Z (SI)(R10*1), K1, Z5 \
	VMOVUPS.Z (SI)(R9*2), K1, Z6 \
	VMOVUPS.Z (SI)(R11*1), K1, Z7 \
	VMOVUPS.Z (R12), K1, Z8 \
	VMOVUPS.Z (R12)(R8*1), K1, Z9 \
	VMOVUPS.Z (R12)(R8*2), K1, Z10 \
	VMOVUPS.Z (R12)(R9*1), K1, Z11 \
	VMOVUPS.Z (R12)(R8*4), K1, Z12 \
	VMOVUPS.Z (R12)(R10*1), K1, Z13 \
	VMOVUPS.Z (R12)(R9*2), K1, Z14 \
	VMOVUPS.Z (R12)(R11*1), K1, Z15

// One 4×4 transpose of 128-bit lanes for TRANSPOSE16's last two steps: from A, B, C, D (lane L of
// each holding 4 columns at row 4L+s), row 4L+s (all 16 columns) goes to A (L=0), B, C, D (L=3).
#define LANES4x4(A, B, C, D, T0, T1, T2, T3) \
	VSHUFF32X4 $0x44, B, A, T0 \
	VSHUFF32X4 $0xEE, B, A, T1 \
	VSHUFF32X4 $0x44, D, C, T2 \
	VSHUFF32X4 $0xEE, D, C, T3 \
	VSHUFF32X4 $0x88, T2, T0, A \
	VSHUFF32X4 $0xDD, T2, T0, B \
	VSHUFF32X4 $0x88, T3, T1, C \
	VSHUFF32X4 $0xDD, T3, T1, D

// Transposes the 16×16 block held in Z0..Z15 (Zj = column j, rows 0..15) so that Zp holds row p;
// Z16..Z31 are clobbered. Interleaving pairs of columns (PS) and then pairs of pairs (PD) leaves,
// in lane L of Z(4g+s), columns 4g..4g+3 of row 4L+s; LANES4x4 then gathers the lanes.
#define TRANSPOSE16 \
	VUNPCKLPS Z1, Z0, Z16 \
	VUNPCKHPS Z1, Z0, Z17 \
	VUNPCKLPS Z3, Z2, Z18 \
	VUNPCKHPS Z3, Z2, Z19 \
	VUNPCKLPS Z5, Z4, Z20 \
	VUNPCKHPS Z5, Z4, Z21 \
	VUNPCKLPS Z7, Z6, Z22 \
	VUNPCKHPS Z7, Z6, Z23 \
	VUNPCKLPS Z9, Z8, Z24 \
	VUNPCKHPS Z9, Z8, Z25 \
	VUNPCKLPS Z11, Z10, Z26 \
	VUNPCKHPS Z11, Z10, Z27 \
	VUNPCKLPS Z13, Z12, Z28 \
	VUNPCKHPS Z13, Z12, Z29 \
	VUNPCKLPS Z15, Z14, Z30 \
	VUNPCKHPS Z15, Z14, Z31 \
	VUNPCKLPD Z18, Z16, Z0 \
	VUNPCKHPD Z18, Z16, Z1 \
	VUNPCKLPD Z19, Z17, Z2 \
	VUNPCKHPD Z19, Z17, Z3 \
	VUNPCKLPD Z22, Z20, Z4 \
	VUNPCKHPD Z22, Z20, Z5 \
	VUNPCKLPD Z23, Z21, Z6 \
	VUNPCKHPD Z23, Z21, Z7 \
	VUNPCKLPD Z26, Z24, Z8 \
	VUNPCKHPD Z26, Z24, Z9 \
	VUNPCKLPD Z27, Z25, Z10 \
	VUNPCKHPD Z27, Z25, Z11 \
	VUNPCKLPD Z30, Z28, Z12 \
	VUNPCKHPD Z30, Z28, Z13 \
	VUNPCKLPD Z31, Z29, Z14 \
	VUNPCKHPD Z31, Z29, Z15 \
	LANES4x4(Z0, Z4, Z8, Z12, Z16, Z17, Z18, Z19) \
	LANES4x4(Z1, Z5, Z9, Z13, Z20, Z21, Z22, Z23) \
	LANES4x4(Z2, Z6, Z10, Z14, Z24, Z25, Z26, Z27) \
	LANES4x4(Z3, Z7, Z11, Z15, Z28, Z29, Z30, Z31)

// func packColsT16AVX512(dst, src unsafe.Pointer, lds, ldd, k int)
// Packs 16 contiguous columns of B (column j at src + j·lds floats, k floats long) as rows:
// dst[p·ldd + j] = column j[p] for p < k, j < 16; nothing else in dst is written. lds and ldd are
// in floats; k ≥ 1. Blocks of 16 rows are loaded as 16 vectors, transposed in registers and stored
// as 16 rows; a last block of k%16 rows is loaded under a mask and only its rows are stored.
TEXT ·packColsT16AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	MOVQ ldd+24(FP), R13
	MOVQ k+32(FP), CX
	MOVQ CX, DX
	ANDQ $15, CX
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	MOVQ DX, CX
	SHLQ $2, R8
	SHLQ $2, R13
	LEAQ (R8)(R8*2), R9
	LEAQ (R8)(R8*4), R10
	LEAQ (R9)(R8*4), R11
	LEAQ (SI)(R8*8), R12
	LEAQ (R13)(R13*2), R14
	LEAQ (R13)(R13*4), AX
	LEAQ (R14)(R13*4), BX
	LEAQ (DI)(R13*8), DX
	CMPQ CX, $16
	JLT tail
loop:
	LOADCOLS16
	TRANSPOSE16
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, (DI)(R13*1)
	VMOVUPS Z2, (DI)(R13*2)
	VMOVUPS Z3, (DI)(R14*1)
	VMOVUPS Z4, (DI)(R13*4)
	VMOVUPS Z5, (DI)(AX*1)
	VMOVUPS Z6, (DI)(R14*2)
	VMOVUPS Z7, (DI)(BX*1)
	VMOVUPS Z8, (DX)
	VMOVUPS Z9, (DX)(R13*1)
	VMOVUPS Z10, (DX)(R13*2)
	VMOVUPS Z11, (DX)(R14*1)
	VMOVUPS Z12, (DX)(R13*4)
	VMOVUPS Z13, (DX)(AX*1)
	VMOVUPS Z14, (DX)(R14*2)
	VMOVUPS Z15, (DX)(BX*1)
	ADDQ $64, SI
	ADDQ $64, R12
	LEAQ (DX)(R13*8), DI
	LEAQ (DI)(R13*8), DX
	SUBQ $16, CX
	CMPQ CX, $16
	JGE loop
tail:
	TESTQ CX, CX
	JZ done
	LOADCOLS16Z
	TRANSPOSE16
	VMOVUPS Z0, (DI)
	DECQ CX
	JZ done
	VMOVUPS Z1, (DI)(R13*1)
	DECQ CX
	JZ done
	VMOVUPS Z2, (DI)(R13*2)
	DECQ CX
	JZ done
	VMOVUPS Z3, (DI)(R14*1)
	DECQ CX
	JZ done
	VMOVUPS Z4, (DI)(R13*4)
	DECQ CX
	JZ done
	VMOVUPS Z5, (DI)(AX*1)
	DECQ CX
	JZ done
	VMOVUPS Z6, (DI)(R14*2)
	DECQ CX
	JZ done
	VMOVUPS Z7, (DI)(BX*1)
	DECQ CX
	JZ done
	VMOVUPS Z8, (DX)
	DECQ CX
	JZ done
	VMOVUPS Z9, (DX)(R13*1)
	DECQ CX
	JZ done
	VMOVUPS Z10, (DX)(R13*2)
	DECQ CX
	JZ done
	VMOVUPS Z11, (DX)(R14*1)
	DECQ CX
	JZ done
	VMOVUPS Z12, (DX)(R13*4)
	DECQ CX
	JZ done
	VMOVUPS Z13, (DX)(AX*1)
	DECQ CX
	JZ done
	VMOVUPS Z14, (DX)(R14*2)
done:
	VZEROUPPER
	RET
