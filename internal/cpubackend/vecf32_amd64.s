//go:build amd64

#include "textflag.h"

// SIMD float32 kernels: element-wise add/sub/mul/div (vector-vector, vector-scalar, scalar-vector),
// sum and NaN-propagating max reductions, and exp / logistic. Each kernel comes in an AVX-512F
// variant (16 lanes, masked tail, so it handles any n) and an AVX2+FMA variant (8 lanes, it only
// processes n &^ 7 elements; the Go caller finishes the tail). out may alias an input exactly:
// every vector is loaded before the corresponding output vector is stored.
// The dispatching Go code is in vecf32.go / vecf32_amd64.go.

// 8-lane (32-byte) constant tables; AVX-512 code broadcasts their first lane.
#define CONST8(name, bits) \
	DATA name+0(SB)/4, $bits; \
	DATA name+4(SB)/4, $bits; \
	DATA name+8(SB)/4, $bits; \
	DATA name+12(SB)/4, $bits; \
	DATA name+16(SB)/4, $bits; \
	DATA name+20(SB)/4, $bits; \
	DATA name+24(SB)/4, $bits; \
	DATA name+28(SB)/4, $bits; \
	GLOBL name(SB), RODATA|NOPTR, $32

CONST8(vexpLog2e<>, 0x3fb8aa3b) // log2(e)
CONST8(vexpLn2Hi<>, 0x3f318000) // 0.693359375: few mantissa bits, so n·ln2hi is exact
CONST8(vexpLn2Lo<>, 0xb95e8083) // ln2 - ln2hi = -2.12194440e-4
CONST8(vexpC7<>, 0x39500d01)    // 1/5040
CONST8(vexpC6<>, 0x3ab60b61)    // 1/720
CONST8(vexpC5<>, 0x3c088889)    // 1/120
CONST8(vexpC4<>, 0x3d2aaaab)    // 1/24
CONST8(vexpC3<>, 0x3e2aaaab)    // 1/6
CONST8(vexpHalf<>, 0x3f000000)  // 1/2
CONST8(vexpOne<>, 0x3f800000)   // 1
CONST8(vexpHi<>, 0x42b17217)    // 88.72283: above it e^x overflows to +Inf
CONST8(vexpLo<>, 0xc2cff1b4)    // -103.97208: below it e^x rounds to 0
CONST8(vexpInf<>, 0x7f800000)   // +Inf
CONST8(vexpSign<>, 0x80000000)  // sign bit
CONST8(vexpBias<>, 0x0000007f)  // exponent bias 127 (int32)

// Macros (all defined before the first TEXT so that go vet's asmdecl does not attribute their
// lines to a function).

// VV512: out[i] = x[i] OP y[i] for i < n.
#define VV512(OP) \
	MOVQ out+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ y+16(FP), DX; \
	MOVQ n+24(FP), CX; \
	CMPQ CX, $64; \
	JB   vec16; \
loop64: \
	VMOVUPS (SI), Z0; \
	VMOVUPS 64(SI), Z1; \
	VMOVUPS 128(SI), Z2; \
	VMOVUPS 192(SI), Z3; \
	OP   (DX), Z0, Z0; \
	OP   64(DX), Z1, Z1; \
	OP   128(DX), Z2, Z2; \
	OP   192(DX), Z3, Z3; \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, 64(DI); \
	VMOVUPS Z2, 128(DI); \
	VMOVUPS Z3, 192(DI); \
	ADDQ $256, SI; \
	ADDQ $256, DX; \
	ADDQ $256, DI; \
	SUBQ $64, CX; \
	CMPQ CX, $64; \
	JAE  loop64; \
vec16: \
	CMPQ CX, $16; \
	JB   tail; \
	VMOVUPS (SI), Z0; \
	OP   (DX), Z0, Z0; \
	VMOVUPS Z0, (DI); \
	ADDQ $64, SI; \
	ADDQ $64, DX; \
	ADDQ $64, DI; \
	SUBQ $16, CX; \
	JMP  vec16; \
tail: \
	TESTQ CX, CX; \
	JZ   done; \
	MOVL $1, AX; \
	SHLL CX, AX; \
	DECL AX; \
	KMOVW AX, K1; \
	VMOVUPS.Z (SI), K1, Z0; \
	VMOVUPS.Z (DX), K1, Z1; \
	OP   Z1, Z0, Z0; \
	VMOVUPS Z0, K1, (DI); \
done: \
	VZEROUPPER; \
	RET

// XS512: out[i] = x[i] OP c.
#define XS512(OP) \
	MOVQ out+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ n+16(FP), CX; \
	VBROADCASTSS c+24(FP), Z31; \
	CMPQ CX, $64; \
	JB   vec16; \
loop64: \
	VMOVUPS (SI), Z0; \
	VMOVUPS 64(SI), Z1; \
	VMOVUPS 128(SI), Z2; \
	VMOVUPS 192(SI), Z3; \
	OP   Z31, Z0, Z0; \
	OP   Z31, Z1, Z1; \
	OP   Z31, Z2, Z2; \
	OP   Z31, Z3, Z3; \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, 64(DI); \
	VMOVUPS Z2, 128(DI); \
	VMOVUPS Z3, 192(DI); \
	ADDQ $256, SI; \
	ADDQ $256, DI; \
	SUBQ $64, CX; \
	CMPQ CX, $64; \
	JAE  loop64; \
vec16: \
	CMPQ CX, $16; \
	JB   tail; \
	VMOVUPS (SI), Z0; \
	OP   Z31, Z0, Z0; \
	VMOVUPS Z0, (DI); \
	ADDQ $64, SI; \
	ADDQ $64, DI; \
	SUBQ $16, CX; \
	JMP  vec16; \
tail: \
	TESTQ CX, CX; \
	JZ   done; \
	MOVL $1, AX; \
	SHLL CX, AX; \
	DECL AX; \
	KMOVW AX, K1; \
	VMOVUPS.Z (SI), K1, Z0; \
	OP   Z31, Z0, Z0; \
	VMOVUPS Z0, K1, (DI); \
done: \
	VZEROUPPER; \
	RET

// SX512: out[i] = c OP x[i].
#define SX512(OP) \
	MOVQ out+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ n+16(FP), CX; \
	VBROADCASTSS c+24(FP), Z31; \
	CMPQ CX, $64; \
	JB   vec16; \
loop64: \
	OP   (SI), Z31, Z0; \
	OP   64(SI), Z31, Z1; \
	OP   128(SI), Z31, Z2; \
	OP   192(SI), Z31, Z3; \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, 64(DI); \
	VMOVUPS Z2, 128(DI); \
	VMOVUPS Z3, 192(DI); \
	ADDQ $256, SI; \
	ADDQ $256, DI; \
	SUBQ $64, CX; \
	CMPQ CX, $64; \
	JAE  loop64; \
vec16: \
	CMPQ CX, $16; \
	JB   tail; \
	OP   (SI), Z31, Z0; \
	VMOVUPS Z0, (DI); \
	ADDQ $64, SI; \
	ADDQ $64, DI; \
	SUBQ $16, CX; \
	JMP  vec16; \
tail: \
	TESTQ CX, CX; \
	JZ   done; \
	MOVL $1, AX; \
	SHLL CX, AX; \
	DECL AX; \
	KMOVW AX, K1; \
	VMOVUPS.Z (SI), K1, Z0; \
	OP   Z0, Z31, Z0; \
	VMOVUPS Z0, K1, (DI); \
done: \
	VZEROUPPER; \
	RET

#define VV256(OP) \
	MOVQ out+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ y+16(FP), DX; \
	MOVQ n+24(FP), CX; \
	CMPQ CX, $32; \
	JB   vec8; \
loop32: \
	VMOVUPS (SI), Y0; \
	VMOVUPS 32(SI), Y1; \
	VMOVUPS 64(SI), Y2; \
	VMOVUPS 96(SI), Y3; \
	OP   (DX), Y0, Y0; \
	OP   32(DX), Y1, Y1; \
	OP   64(DX), Y2, Y2; \
	OP   96(DX), Y3, Y3; \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y1, 32(DI); \
	VMOVUPS Y2, 64(DI); \
	VMOVUPS Y3, 96(DI); \
	ADDQ $128, SI; \
	ADDQ $128, DX; \
	ADDQ $128, DI; \
	SUBQ $32, CX; \
	CMPQ CX, $32; \
	JAE  loop32; \
vec8: \
	CMPQ CX, $8; \
	JB   done; \
	VMOVUPS (SI), Y0; \
	OP   (DX), Y0, Y0; \
	VMOVUPS Y0, (DI); \
	ADDQ $32, SI; \
	ADDQ $32, DX; \
	ADDQ $32, DI; \
	SUBQ $8, CX; \
	JMP  vec8; \
done: \
	VZEROUPPER; \
	RET

#define XS256(OP) \
	MOVQ out+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ n+16(FP), CX; \
	VBROADCASTSS c+24(FP), Y15; \
	CMPQ CX, $32; \
	JB   vec8; \
loop32: \
	VMOVUPS (SI), Y0; \
	VMOVUPS 32(SI), Y1; \
	VMOVUPS 64(SI), Y2; \
	VMOVUPS 96(SI), Y3; \
	OP   Y15, Y0, Y0; \
	OP   Y15, Y1, Y1; \
	OP   Y15, Y2, Y2; \
	OP   Y15, Y3, Y3; \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y1, 32(DI); \
	VMOVUPS Y2, 64(DI); \
	VMOVUPS Y3, 96(DI); \
	ADDQ $128, SI; \
	ADDQ $128, DI; \
	SUBQ $32, CX; \
	CMPQ CX, $32; \
	JAE  loop32; \
vec8: \
	CMPQ CX, $8; \
	JB   done; \
	VMOVUPS (SI), Y0; \
	OP   Y15, Y0, Y0; \
	VMOVUPS Y0, (DI); \
	ADDQ $32, SI; \
	ADDQ $32, DI; \
	SUBQ $8, CX; \
	JMP  vec8; \
done: \
	VZEROUPPER; \
	RET

#define SX256(OP) \
	MOVQ out+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ n+16(FP), CX; \
	VBROADCASTSS c+24(FP), Y15; \
	CMPQ CX, $32; \
	JB   vec8; \
loop32: \
	OP   (SI), Y15, Y0; \
	OP   32(SI), Y15, Y1; \
	OP   64(SI), Y15, Y2; \
	OP   96(SI), Y15, Y3; \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y1, 32(DI); \
	VMOVUPS Y2, 64(DI); \
	VMOVUPS Y3, 96(DI); \
	ADDQ $128, SI; \
	ADDQ $128, DI; \
	SUBQ $32, CX; \
	CMPQ CX, $32; \
	JAE  loop32; \
vec8: \
	CMPQ CX, $8; \
	JB   done; \
	OP   (SI), Y15, Y0; \
	VMOVUPS Y0, (DI); \
	ADDQ $32, SI; \
	ADDQ $32, DI; \
	SUBQ $8, CX; \
	JMP  vec8; \
done: \
	VZEROUPPER; \
	RET

// EXP512(X, N, R, P, T, K): P = e^X. Needs the constants in Z16–Z29 (EXPCONST512); clobbers N, R,
// T and mask K. The kernels run two of these chains per iteration: one chain is a ~70-cycle
// dependency chain and the out-of-order window alone does not overlap enough iterations.
#define EXP512(X, N, R, P, T, K) \
	VMULPS       Z16, X, N; \
	VRNDSCALEPS  $0, N, N; \
	VMOVAPS      X, R; \
	VFNMADD231PS Z17, N, R; \
	VFNMADD231PS Z18, N, R; \
	VMOVAPS      Z19, P; \
	VFMADD213PS  Z20, R, P; \
	VFMADD213PS  Z21, R, P; \
	VFMADD213PS  Z22, R, P; \
	VFMADD213PS  Z23, R, P; \
	VFMADD213PS  Z24, R, P; \
	VMULPS       R, R, T; \
	VFMADD213PS  R, T, P; \
	VADDPS       Z25, P, P; \
	VSCALEFPS    N, P, P; \
	VCMPPS       $0x1e, Z26, X, K; \
	VMOVAPS      Z28, K, P; \
	VCMPPS       $0x11, Z27, X, K; \
	VMOVAPS      Z29, K, P

// LOGISTIC512(X0, X, N, R, P, T, K): R = 1/(1+e^-X0), from e = e^-|X0| as 1/(1+e) for X0 >= 0 and
// e/(1+e) for X0 < 0, so it neither overflows nor cancels. Clobbers X, N, P, T, K.
#define LOGISTIC512(X0, X, N, R, P, T, K) \
	VPORD        Z30, X0, X; \
	EXP512(X, N, R, P, T, K); \
	VADDPS       Z25, P, N; \
	VMOVAPS      Z25, R; \
	VCMPPS       $0x11, Z29, X0, K; \
	VMOVAPS      P, K, R; \
	VDIVPS       N, R, R

#define EXPCONST512 \
	VBROADCASTSS vexpLog2e<>(SB), Z16; \
	VBROADCASTSS vexpLn2Hi<>(SB), Z17; \
	VBROADCASTSS vexpLn2Lo<>(SB), Z18; \
	VBROADCASTSS vexpC7<>(SB), Z19; \
	VBROADCASTSS vexpC6<>(SB), Z20; \
	VBROADCASTSS vexpC5<>(SB), Z21; \
	VBROADCASTSS vexpC4<>(SB), Z22; \
	VBROADCASTSS vexpC3<>(SB), Z23; \
	VBROADCASTSS vexpHalf<>(SB), Z24; \
	VBROADCASTSS vexpOne<>(SB), Z25; \
	VBROADCASTSS vexpHi<>(SB), Z26; \
	VBROADCASTSS vexpLo<>(SB), Z27; \
	VBROADCASTSS vexpInf<>(SB), Z28; \
	VPXORD       Z29, Z29, Z29; \
	VBROADCASTSS vexpSign<>(SB), Z30

// EXP256(X, N, R, P, T): P = e^X. Needs the constants in Y10–Y15 (EXPCONST256), the rest come
// from memory; clobbers N, R, T.
#define EXP256(X, N, R, P, T) \
	VMULPS       Y10, X, N; \
	VROUNDPS     $0, N, N; \
	VMOVAPS      X, R; \
	VFNMADD231PS Y11, N, R; \
	VFNMADD231PS Y12, N, R; \
	VMOVAPS      Y13, P; \
	VFMADD213PS  Y14, R, P; \
	VFMADD213PS  Y15, R, P; \
	VFMADD213PS  vexpC4<>(SB), R, P; \
	VFMADD213PS  vexpC3<>(SB), R, P; \
	VFMADD213PS  vexpHalf<>(SB), R, P; \
	VMULPS       R, R, T; \
	VFMADD213PS  R, T, P; \
	VADDPS       vexpOne<>(SB), P, P; \
	VCVTPS2DQ    N, N; \
	VPSRAD       $1, N, T; \
	VPSUBD       T, N, N; \
	VPADDD       vexpBias<>(SB), T, T; \
	VPSLLD       $23, T, T; \
	VPADDD       vexpBias<>(SB), N, N; \
	VPSLLD       $23, N, N; \
	VMULPS       T, P, P; \
	VMULPS       N, P, P; \
	VCMPPS       $0x1e, vexpHi<>(SB), X, T; \
	VBLENDVPS    T, vexpInf<>(SB), P, P; \
	VCMPPS       $0x11, vexpLo<>(SB), X, T; \
	VANDNPS      P, T, P

// LOGISTIC256(XMEM, X, N, R, P, T): R = 1/(1+e^-x) for the 8 floats at XMEM (as LOGISTIC512; x is
// loaded again at the end as the blend mask, to save a register). Clobbers X, N, P, T.
#define LOGISTIC256(XMEM, X, N, R, P, T) \
	VMOVUPS      XMEM, X; \
	VORPS        vexpSign<>(SB), X, X; \
	EXP256(X, N, R, P, T); \
	VMOVUPS      vexpOne<>(SB), R; \
	VADDPS       R, P, N; \
	VMOVUPS      XMEM, T; \
	VBLENDVPS    T, P, R, R; \
	VDIVPS       N, R, R

#define EXPCONST256 \
	VMOVUPS vexpLog2e<>(SB), Y10; \
	VMOVUPS vexpLn2Hi<>(SB), Y11; \
	VMOVUPS vexpLn2Lo<>(SB), Y12; \
	VMOVUPS vexpC7<>(SB), Y13; \
	VMOVUPS vexpC6<>(SB), Y14; \
	VMOVUPS vexpC5<>(SB), Y15

// ---------------------------------------------------------------------------------------------
// Element-wise binary kernels, AVX-512.

// func addVV512(out, x, y *float32, n int)
TEXT ·addVV512(SB), NOSPLIT, $0-32
	VV512(VADDPS)

// func subVV512(out, x, y *float32, n int)
TEXT ·subVV512(SB), NOSPLIT, $0-32
	VV512(VSUBPS)

// func mulVV512(out, x, y *float32, n int)
TEXT ·mulVV512(SB), NOSPLIT, $0-32
	VV512(VMULPS)

// func divVV512(out, x, y *float32, n int)
TEXT ·divVV512(SB), NOSPLIT, $0-32
	VV512(VDIVPS)

// func addXS512(out, x *float32, n int, c float32)
TEXT ·addXS512(SB), NOSPLIT, $0-28
	XS512(VADDPS)

// func subXS512(out, x *float32, n int, c float32)
TEXT ·subXS512(SB), NOSPLIT, $0-28
	XS512(VSUBPS)

// func mulXS512(out, x *float32, n int, c float32)
TEXT ·mulXS512(SB), NOSPLIT, $0-28
	XS512(VMULPS)

// func divXS512(out, x *float32, n int, c float32)
TEXT ·divXS512(SB), NOSPLIT, $0-28
	XS512(VDIVPS)

// func subSX512(out, x *float32, n int, c float32)
TEXT ·subSX512(SB), NOSPLIT, $0-28
	SX512(VSUBPS)

// func divSX512(out, x *float32, n int, c float32)
TEXT ·divSX512(SB), NOSPLIT, $0-28
	SX512(VDIVPS)

// ---------------------------------------------------------------------------------------------
// Element-wise binary kernels, AVX2: only the first n &^ 7 elements.

// func addVV256(out, x, y *float32, n int)
TEXT ·addVV256(SB), NOSPLIT, $0-32
	VV256(VADDPS)

// func subVV256(out, x, y *float32, n int)
TEXT ·subVV256(SB), NOSPLIT, $0-32
	VV256(VSUBPS)

// func mulVV256(out, x, y *float32, n int)
TEXT ·mulVV256(SB), NOSPLIT, $0-32
	VV256(VMULPS)

// func divVV256(out, x, y *float32, n int)
TEXT ·divVV256(SB), NOSPLIT, $0-32
	VV256(VDIVPS)

// func addXS256(out, x *float32, n int, c float32)
TEXT ·addXS256(SB), NOSPLIT, $0-28
	XS256(VADDPS)

// func subXS256(out, x *float32, n int, c float32)
TEXT ·subXS256(SB), NOSPLIT, $0-28
	XS256(VSUBPS)

// func mulXS256(out, x *float32, n int, c float32)
TEXT ·mulXS256(SB), NOSPLIT, $0-28
	XS256(VMULPS)

// func divXS256(out, x *float32, n int, c float32)
TEXT ·divXS256(SB), NOSPLIT, $0-28
	XS256(VDIVPS)

// func subSX256(out, x *float32, n int, c float32)
TEXT ·subSX256(SB), NOSPLIT, $0-28
	SX256(VSUBPS)

// func divSX256(out, x *float32, n int, c float32)
TEXT ·divSX256(SB), NOSPLIT, $0-28
	SX256(VDIVPS)

// ---------------------------------------------------------------------------------------------
// Reductions. They write lane-wise partial results to acc (16 floats for AVX-512, the first 8 for
// AVX2); the Go caller folds the lanes (and, for AVX2, the n&7 tail).

// func sum512(x *float32, n int, acc *float32)
TEXT ·sum512(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVQ   acc+16(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ   CX, $64
	JB     sum512vec16

sum512loop64:
	VADDPS (SI), Z0, Z0
	VADDPS 64(SI), Z1, Z1
	VADDPS 128(SI), Z2, Z2
	VADDPS 192(SI), Z3, Z3
	ADDQ   $256, SI
	SUBQ   $64, CX
	CMPQ   CX, $64
	JAE    sum512loop64

sum512vec16:
	CMPQ   CX, $16
	JB     sum512tail
	VADDPS (SI), Z0, Z0
	ADDQ   $64, SI
	SUBQ   $16, CX
	JMP    sum512vec16

sum512tail:
	TESTQ     CX, CX
	JZ        sum512done
	MOVL      $1, AX
	SHLL      CX, AX
	DECL      AX
	KMOVW     AX, K1
	VMOVUPS.Z (SI), K1, Z4
	VADDPS    Z4, Z1, Z1

sum512done:
	VADDPS  Z1, Z0, Z0
	VADDPS  Z3, Z2, Z2
	VADDPS  Z2, Z0, Z0
	VMOVUPS Z0, (DI)
	VZEROUPPER
	RET

// func max512(x *float32, n int, acc *float32) (nan bool)
// n must be at least 1. NaN lanes are tracked separately (VMAXPS does not propagate NaN from
// either operand), so the lanes of acc are only meaningful when nan is false.
TEXT ·max512(SB), NOSPLIT, $0-25
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVQ         acc+16(FP), DI
	VBROADCASTSS vexpInf<>(SB), Z0
	VPORD.BCST   vexpSign<>(SB), Z0, Z0 // -Inf
	VMOVAPS      Z0, Z1
	VMOVAPS      Z0, Z2
	VMOVAPS      Z0, Z3
	KXORW        K3, K3, K3
	CMPQ         CX, $64
	JB           max512vec16

max512loop64:
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VMAXPS  Z4, Z0, Z0
	VMAXPS  Z5, Z1, Z1
	VMAXPS  Z6, Z2, Z2
	VMAXPS  Z7, Z3, Z3
	VCMPPS  $3, Z5, Z4, K1 // unordered: x4 or x5 is NaN
	VCMPPS  $3, Z7, Z6, K2
	KORW    K1, K3, K3
	KORW    K2, K3, K3
	ADDQ    $256, SI
	SUBQ    $64, CX
	CMPQ    CX, $64
	JAE     max512loop64

max512vec16:
	CMPQ    CX, $16
	JB      max512tail
	VMOVUPS (SI), Z4
	VMAXPS  Z4, Z0, Z0
	VCMPPS  $3, Z4, Z4, K1
	KORW    K1, K3, K3
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     max512vec16

max512tail:
	TESTQ   CX, CX
	JZ      max512done
	MOVL    $1, AX
	SHLL    CX, AX
	DECL    AX
	KMOVW   AX, K1
	VMOVUPS Z1, Z4
	VMOVUPS (SI), K1, Z4    // masked-off lanes keep Z1's values
	VMAXPS  Z4, Z1, Z1
	VCMPPS  $3, Z4, Z4, K2
	KORW    K2, K3, K3

max512done:
	VMAXPS  Z1, Z0, Z0
	VMAXPS  Z3, Z2, Z2
	VMAXPS  Z2, Z0, Z0
	VMOVUPS Z0, (DI)
	KMOVW   K3, AX
	TESTL   AX, AX
	SETNE   nan+24(FP)
	VZEROUPPER
	RET

// func sum256(x *float32, n int, acc *float32): first n &^ 7 elements.
TEXT ·sum256(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVQ   acc+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JB     sum256vec8

sum256loop32:
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	ADDQ   $128, SI
	SUBQ   $32, CX
	CMPQ   CX, $32
	JAE    sum256loop32

sum256vec8:
	CMPQ   CX, $8
	JB     sum256done
	VADDPS (SI), Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	JMP    sum256vec8

sum256done:
	VADDPS  Y1, Y0, Y0
	VADDPS  Y3, Y2, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET

// func max256(x *float32, n int, acc *float32) (nan bool): first n &^ 7 elements, n >= 8.
TEXT ·max256(SB), NOSPLIT, $0-25
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	MOVQ         acc+16(FP), DI
	VBROADCASTSS vexpInf<>(SB), Y0
	VORPS        vexpSign<>(SB), Y0, Y0 // -Inf
	VMOVAPS      Y0, Y1
	VMOVAPS      Y0, Y2
	VMOVAPS      Y0, Y3
	VXORPS       Y8, Y8, Y8             // NaN lanes
	CMPQ         CX, $32
	JB           max256vec8

max256loop32:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VMAXPS  Y4, Y0, Y0
	VMAXPS  Y5, Y1, Y1
	VMAXPS  Y6, Y2, Y2
	VMAXPS  Y7, Y3, Y3
	VCMPPS  $3, Y5, Y4, Y9
	VCMPPS  $3, Y7, Y6, Y10
	VORPS   Y9, Y8, Y8
	VORPS   Y10, Y8, Y8
	ADDQ    $128, SI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     max256loop32

max256vec8:
	CMPQ    CX, $8
	JB      max256done
	VMOVUPS (SI), Y4
	VMAXPS  Y4, Y0, Y0
	VCMPPS  $3, Y4, Y4, Y9
	VORPS   Y9, Y8, Y8
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     max256vec8

max256done:
	VMAXPS    Y1, Y0, Y0
	VMAXPS    Y3, Y2, Y2
	VMAXPS    Y2, Y0, Y0
	VMOVUPS   Y0, (DI)
	VMOVMSKPS Y8, AX
	TESTL     AX, AX
	SETNE     nan+24(FP)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------------------------
// exp and logistic.
//
// e^x = 2^n · e^r with n = round(x·log2e) and r = x - n·ln2 (Cody–Waite: n·ln2hi is exact, the
// small n·ln2lo correction is fused), |r| <= ~0.347. e^r is the degree-7 Taylor polynomial
// 1 + r + r²·(1/2 + r/6 + ... + r⁵/5040), truncation error < 1e-8 relative, evaluated with FMA.
// x > 88.72283 gives +Inf, x < -103.97208 gives 0 (matching exp32), NaN propagates through the
// arithmetic (the range compares are ordered, so false for NaN).
// Subnormal results: AVX-512 uses VSCALEFPS, which rounds p·2^n once, so subnormal results are
// correctly rounded from p (error <= 0.5 ulp of the subnormal plus p's tiny relative error); AVX2
// multiplies by 2^(n>>1) (exact) and then 2^(n-(n>>1)) (one rounding), with the same effect.
// Both variants give the same results.

// func exp512(out, x *float32, n int): any n >= 0.
TEXT ·exp512(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST512

exp512loop32:
	CMPQ    CX, $32
	JB      exp512loop
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z8
	EXP512(Z0, Z1, Z2, Z3, Z4, K2)
	EXP512(Z8, Z9, Z10, Z11, Z12, K3)
	VMOVUPS Z3, (DI)
	VMOVUPS Z11, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     exp512loop32

exp512loop:
	TESTQ CX, CX
	JLE   exp512done
	MOVL  $0xffff, AX
	CMPQ  CX, $16
	JAE   exp512body
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX

exp512body:
	KMOVW     AX, K1
	VMOVUPS.Z (SI), K1, Z0
	EXP512(Z0, Z1, Z2, Z3, Z4, K2)
	VMOVUPS   Z3, K1, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       exp512loop

exp512done:
	VZEROUPPER
	RET

// func logistic512(out, x *float32, n int): any n >= 0.
TEXT ·logistic512(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST512

logistic512loop32:
	CMPQ    CX, $32
	JB      logistic512loop
	VMOVUPS (SI), Z6
	VMOVUPS 64(SI), Z14
	LOGISTIC512(Z6, Z0, Z1, Z2, Z3, Z4, K2)
	LOGISTIC512(Z14, Z8, Z9, Z10, Z11, Z12, K3)
	VMOVUPS Z2, (DI)
	VMOVUPS Z10, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     logistic512loop32

logistic512loop:
	TESTQ CX, CX
	JLE   logistic512done
	MOVL  $0xffff, AX
	CMPQ  CX, $16
	JAE   logistic512body
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX

logistic512body:
	KMOVW     AX, K1
	VMOVUPS.Z (SI), K1, Z6
	LOGISTIC512(Z6, Z0, Z1, Z2, Z3, Z4, K2)
	VMOVUPS   Z2, K1, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       logistic512loop

logistic512done:
	VZEROUPPER
	RET

// func exp256(out, x *float32, n int): first n &^ 7 elements.
TEXT ·exp256(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST256

exp256loop16:
	CMPQ    CX, $16
	JB      exp256loop
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	EXP256(Y0, Y1, Y2, Y3, Y4)
	EXP256(Y5, Y6, Y7, Y8, Y9)
	VMOVUPS Y3, (DI)
	VMOVUPS Y8, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     exp256loop16

exp256loop:
	CMPQ    CX, $8
	JB      exp256done
	VMOVUPS (SI), Y0
	EXP256(Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y3, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     exp256loop

exp256done:
	VZEROUPPER
	RET

// func logistic256(out, x *float32, n int): first n &^ 7 elements.
TEXT ·logistic256(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONST256

logistic256loop16:
	CMPQ    CX, $16
	JB      logistic256loop
	LOGISTIC256((SI), Y0, Y1, Y2, Y3, Y4)
	LOGISTIC256(32(SI), Y5, Y6, Y7, Y8, Y9)
	VMOVUPS Y2, (DI)
	VMOVUPS Y7, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     logistic256loop16

logistic256loop:
	CMPQ    CX, $8
	JB      logistic256done
	LOGISTIC256((SI), Y0, Y1, Y2, Y3, Y4)
	VMOVUPS Y2, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     logistic256loop

logistic256done:
	VZEROUPPER
	RET
