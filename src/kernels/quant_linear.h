// linear() for integer weights: INT8 block-scaled (Weight dtype I8, the checkpoint's rows in
// place) and INT4 groups (Weight::int4, repacked at load). Activations are quantized once per
// input row to int8 in 32-column units, then every product is an integer dot product
// (quant_kernels.h), for decode (each weight row read once for up to 8 rows) and prefill alike.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/weight.h"

namespace dsv3 {

bool is_int_quantized(const Weight& w);

// y[n, W.rows] = x̂[n, W.cols] · Wᵀ, x̂ = x with each 32-column unit rounded to int8 · max|x|/127.
void quant_linear(float* y, const float* x, int64_t n, const Weight& w);

// Input rows x [n, cols] quantized once for every weight of the same width, padding and column
// order, so products of one input (a MoE expert's gate and up) share one rounding pass.
struct QuantActs {
  std::vector<int8_t> q;     // [n, ldq]
  std::vector<float> d, s;   // [n, ldd]
  int64_t ldq = 0, ldd = 0;
  // What they were made from (quant_acts_fit).
  const float* x = nullptr;
  int64_t n = 0, cols = 0;
  const int32_t* perm = nullptr;
};

// Whether `a` holds x [n, w.cols] quantized as w's kernels read it.
bool quant_acts_fit(const QuantActs& a, const float* x, int64_t n, const Weight& w);
// Fills `a` with x [n, w.cols] quantized for w (its buffers are reused: no allocation once grown).
void quantize_for(QuantActs& a, const float* x, int64_t n, const Weight& w);
// y[t · ldy + r] for weight rows r in [r0, r0 + nr) and all n rows of `a` (quantized for w):
// a piece of quant_linear that a thread can take (kernels/linear.h's linear_batch).
void quant_linear_rows(float* y, int64_t ldy, const QuantActs& a, const Weight& w, int64_t r0, int64_t nr);

// linear_t's tile for integer codes: y[t · ldy + c] += Σ_r x[t · R + r] · W[r][c0 + c] for c < nc,
// read from the codes (quant_kernels.h's gemv_t_*), c0 a multiple of 64. False (nothing done)
// unless w is INT8 or INT4 in natural column order, in rows (not 16-row tiles).
bool quant_linear_t_tile(float* y, int64_t ldy, const float* x, int64_t n, const Weight& w, int64_t c0, int64_t nc);

// Columns [c0, c0 + nc) of row r as float32 (for the float GEMM, linear_t and embeddings).
void quant_row_span_f32(float* out, const Weight& w, int64_t r, int64_t c0, int64_t nc);

// The activation rounding quant_linear applies (exposed for the tests' reference):
// q [n, padded] int8, d and s [n, padded / 32]; columns ≥ k (and, with perm, column j taken
// from x[perm[j]]) as described in quant_kernels.h.
void quantize_activations(int8_t* q, float* d, float* s, const float* x, int64_t n, int64_t k, int64_t padded,
                          const int32_t* perm);
// The scalar reference of the same rounding (quantize_activations takes the AVX-512 one where
// the VNNI kernels run; the tests hold them equal).
void quantize_activations_scalar(int8_t* q, float* d, float* s, const float* x, int64_t n, int64_t k,
                                 int64_t padded, const int32_t* perm);

}  // namespace dsv3
