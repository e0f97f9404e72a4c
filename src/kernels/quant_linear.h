// linear() for integer weights: INT8 block-scaled (Weight dtype I8, the checkpoint's rows in
// place) and INT4 groups (Weight::int4, repacked at load). Activations are quantized once per
// input row to int8 in 32-column units, then every product is an integer dot product
// (quant_kernels.h), for decode (each weight row read once for up to 8 rows) and prefill alike.
#pragma once
#include <cstdint>

#include "kernels/weight.h"

namespace dsv3 {

bool is_int_quantized(const Weight& w);

// y[n, W.rows] = x̂[n, W.cols] · Wᵀ, x̂ = x with each 32-column unit rounded to int8 · max|x|/127.
void quant_linear(float* y, const float* x, int64_t n, const Weight& w);

// Columns [c0, c0 + nc) of row r as float32 (for the float GEMM, linear_t and embeddings).
void quant_row_span_f32(float* out, const Weight& w, int64_t r, int64_t c0, int64_t nc);

// The activation rounding quant_linear applies (exposed for the tests' reference):
// q [n, padded] int8, d and s [n, padded / 32]; columns ≥ k (and, with perm, column j taken
// from x[perm[j]]) as described in quant_kernels.h.
void quantize_activations(int8_t* q, float* d, float* s, const float* x, int64_t n, int64_t k, int64_t padded,
                          const int32_t* perm);

}  // namespace dsv3
