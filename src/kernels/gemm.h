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

}  // namespace dsv3
