// A blocked float32 GEMM in the BLIS manner: operands are packed into panels that fit the caches
// (widening stored BF16/F16/FP8 weights while packing), then a per-ISA register-tiled
// microkernel multiplies panels. Threads split the output into tiles.
#pragma once
#include <cstdint>

#include "kernels/weight.h"

namespace dsv3 {

// The left operand A [M, K]: element (i, k) is p[i·ld + k], or p[k·ld + i] when k_major.
struct GemmA {
  const float* p;
  int64_t ld;
  bool k_major;
};

// The right operand B [N, K] drawn from a stored Weight: element (j, k) is W[j][k], or W[k][j]
// when transposed.
struct GemmB {
  const Weight* w;
  bool transposed;
};

// c[M, N] (row stride ldc) = A · Bᵀ, or += when accumulate.
void gemm(float* c, int64_t ldc, int64_t M, int64_t N, int64_t K, const GemmA& a, const GemmB& b, bool accumulate);

// c[M, N] (row stride ldc) = A · Bᵀ with A [M, K] and B = W [N, K] (not transposed) both rounded
// to BF16 and multiplied on the ISA's BF16 dot-product instruction, accumulating in float32.
// Requires isa_kernels().gemm_bf16_micro. BF16 weights are exact; FP8 weights become BF16
// code·scale (rounding the product of the 3-bit mantissa and the block scale to 8 bits).
void gemm_bf16(float* c, int64_t ldc, int64_t M, int64_t N, int64_t K, const GemmA& a, const Weight& w);

}  // namespace dsv3
