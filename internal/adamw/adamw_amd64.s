//go:build amd64

#include "textflag.h"

// AdamW update and float64 sum-of-squares kernels; the dispatching Go code is in adamw.go and
// adamw_amd64.go. The update kernels evaluate the expression documented on Update with one
// instruction per Go operation (multiplications and additions unfused, VSQRTPS correctly rounded),
// so they match the Go loop bit for bit. Go assembler operand order: VSUBPS b, a, d is d = a - b,
// VDIVPS b, a, d is d = a / b.
//
// Constant block (kconsts): clip+0, b1+4, c1+8, b2+12, c2+16, sqrtBc2+20, eps+24, decay+28,
// stepSize+32.

// UPD512: one 16-lane step. Z8 = g, Z9 = m1, Z10 = m2, Z11 = p on entry; leaves the new m1 in Z1,
// the new m2 in Z3 and the new p in Z7. Constants in Z16..Z24.
#define UPD512 \
	VMULPS  Z16, Z8, Z0; \
	VMULPS  Z17, Z9, Z1; \
	VMULPS  Z0, Z18, Z2; \
	VADDPS  Z2, Z1, Z1; \
	VMULPS  Z19, Z10, Z3; \
	VMULPS  Z0, Z20, Z4; \
	VMULPS  Z0, Z4, Z4; \
	VADDPS  Z4, Z3, Z3; \
	VSQRTPS Z3, Z5; \
	VDIVPS  Z21, Z5, Z5; \
	VADDPS  Z22, Z5, Z5; \
	VMULPS  Z1, Z24, Z6; \
	VDIVPS  Z5, Z6, Z6; \
	VMULPS  Z23, Z11, Z7; \
	VSUBPS  Z6, Z7, Z7

// UPD256: one 8-lane step reading the operands from memory at offset AX. Constants in Y7..Y15.
#define UPD256 \
	VMOVUPS (SI)(AX*1), Y0; \
	VMULPS  Y7, Y0, Y0; \
	VMOVUPS (R8)(AX*1), Y1; \
	VMULPS  Y8, Y1, Y1; \
	VMULPS  Y0, Y9, Y2; \
	VADDPS  Y2, Y1, Y1; \
	VMOVUPS Y1, (R8)(AX*1); \
	VMOVUPS (R9)(AX*1), Y3; \
	VMULPS  Y10, Y3, Y3; \
	VMULPS  Y0, Y11, Y4; \
	VMULPS  Y0, Y4, Y4; \
	VADDPS  Y4, Y3, Y3; \
	VMOVUPS Y3, (R9)(AX*1); \
	VSQRTPS Y3, Y5; \
	VDIVPS  Y12, Y5, Y5; \
	VADDPS  Y13, Y5, Y5; \
	VMULPS  Y1, Y15, Y6; \
	VDIVPS  Y5, Y6, Y6; \
	VMOVUPS (DI)(AX*1), Y2; \
	VMULPS  Y14, Y2, Y2; \
	VSUBPS  Y6, Y2, Y2; \
	VMOVUPS Y2, (DI)(AX*1)

// func update512(p, grad, m1, m2 *float32, n int, k *kconsts)
// n >= 1; the last n%16 elements go through a masked step.
TEXT ·update512(SB), NOSPLIT, $0-48
	MOVQ         p+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         m1+16(FP), R8
	MOVQ         m2+24(FP), R9
	MOVQ         n+32(FP), CX
	MOVQ         k+40(FP), AX
	VBROADCASTSS 0(AX), Z16
	VBROADCASTSS 4(AX), Z17
	VBROADCASTSS 8(AX), Z18
	VBROADCASTSS 12(AX), Z19
	VBROADCASTSS 16(AX), Z20
	VBROADCASTSS 20(AX), Z21
	VBROADCASTSS 24(AX), Z22
	VBROADCASTSS 28(AX), Z23
	VBROADCASTSS 32(AX), Z24
	XORQ         AX, AX
	CMPQ         CX, $16
	JB           update512tail

update512loop:
	VMOVUPS (SI)(AX*1), Z8
	VMOVUPS (R8)(AX*1), Z9
	VMOVUPS (R9)(AX*1), Z10
	VMOVUPS (DI)(AX*1), Z11
	UPD512
	VMOVUPS Z1, (R8)(AX*1)
	VMOVUPS Z3, (R9)(AX*1)
	VMOVUPS Z7, (DI)(AX*1)
	ADDQ    $64, AX
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     update512loop

update512tail:
	TESTQ     CX, CX
	JZ        update512done
	MOVL      $1, DX
	SHLL      CX, DX
	DECL      DX
	KMOVW     DX, K1
	VMOVUPS.Z (SI)(AX*1), K1, Z8
	VMOVUPS.Z (R8)(AX*1), K1, Z9
	VMOVUPS.Z (R9)(AX*1), K1, Z10
	VMOVUPS.Z (DI)(AX*1), K1, Z11
	UPD512
	VMOVUPS   Z1, K1, (R8)(AX*1)
	VMOVUPS   Z3, K1, (R9)(AX*1)
	VMOVUPS   Z7, K1, (DI)(AX*1)

update512done:
	VZEROUPPER
	RET

// func update256(p, grad, m1, m2 *float32, n int, k *kconsts)
// Processes the first n &^ 7 elements.
TEXT ·update256(SB), NOSPLIT, $0-48
	MOVQ         p+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         m1+16(FP), R8
	MOVQ         m2+24(FP), R9
	MOVQ         n+32(FP), CX
	MOVQ         k+40(FP), AX
	VBROADCASTSS 0(AX), Y7
	VBROADCASTSS 4(AX), Y8
	VBROADCASTSS 8(AX), Y9
	VBROADCASTSS 12(AX), Y10
	VBROADCASTSS 16(AX), Y11
	VBROADCASTSS 20(AX), Y12
	VBROADCASTSS 24(AX), Y13
	VBROADCASTSS 28(AX), Y14
	VBROADCASTSS 32(AX), Y15
	XORQ         AX, AX
	SHRQ         $3, CX
	JZ           update256done

update256loop:
	UPD256
	ADDQ $32, AX
	DECQ CX
	JNZ  update256loop

update256done:
	VZEROUPPER
	RET

// func sumSquares512(grad *float32, n int, acc *[32]float64)
// n is a positive multiple of 32; element j goes to lane j%32 (Z0: lanes 0-7, ..., Z3: 24-31).
// x*x is exact in float64, so the FMA rounds like the separate multiply and add of the Go loop.
TEXT ·sumSquares512(SB), NOSPLIT, $0-24
	MOVQ   grad+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVQ   acc+16(FP), DI
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3

sumSquares512loop:
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VCVTPS2PD   64(SI), Z6
	VCVTPS2PD   96(SI), Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VFMADD231PD Z6, Z6, Z2
	VFMADD231PD Z7, Z7, Z3
	ADDQ        $128, SI
	SUBQ        $32, CX
	JNZ         sumSquares512loop

	VMOVUPD Z0, (DI)
	VMOVUPD Z1, 64(DI)
	VMOVUPD Z2, 128(DI)
	VMOVUPD Z3, 192(DI)
	VZEROUPPER
	RET

// func sumSquares256(grad *float32, n int, acc *[32]float64)
// As sumSquares512, with eight 4-lane accumulators (Y0: lanes 0-3, ..., Y7: 28-31).
TEXT ·sumSquares256(SB), NOSPLIT, $0-24
	MOVQ   grad+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVQ   acc+16(FP), DI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

sumSquares256loop:
	VCVTPS2PD   (SI), Y8
	VCVTPS2PD   16(SI), Y9
	VCVTPS2PD   32(SI), Y10
	VCVTPS2PD   48(SI), Y11
	VCVTPS2PD   64(SI), Y12
	VCVTPS2PD   80(SI), Y13
	VCVTPS2PD   96(SI), Y14
	VCVTPS2PD   112(SI), Y15
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	VFMADD231PD Y10, Y10, Y2
	VFMADD231PD Y11, Y11, Y3
	VFMADD231PD Y12, Y12, Y4
	VFMADD231PD Y13, Y13, Y5
	VFMADD231PD Y14, Y14, Y6
	VFMADD231PD Y15, Y15, Y7
	ADDQ        $128, SI
	SUBQ        $32, CX
	JNZ         sumSquares256loop

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 128(DI)
	VMOVUPD Y5, 160(DI)
	VMOVUPD Y6, 192(DI)
	VMOVUPD Y7, 224(DI)
	VZEROUPPER
	RET
