// linear() for llama.cpp K-quant weights kept as their GGUF super-blocks (Weight::kquant,
// read in place from the memory map): every product, decode and prefill alike, is an integer
// dot product on the blocks (kquant_kernels.h) with the activations quantized once per call, per
// 256 columns (one scale per super-block, as llama.cpp's Q8_K). Prefill runs the decode kernel on
// 8 input rows at a time over a task's 64 weight rows, which stay in cache between the groups;
// so prefill and decode give the same sums. The transposed product (linear_t) widens tiles of the
// blocks with kquant_row_span_f32 (llama.cpp's own values) for the float GEMM.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/weight.h"

namespace dsv3 {

inline bool is_kquant(const Weight& w) { return w.kquant != KQuant::None; }

// Input rows x [n, cols] quantized for the K-quant kernels (cols a multiple of 256).
struct KQuantActs {
  std::vector<int8_t> q;        // [n, cols]: round(x / d), |q| ≤ 127
  std::vector<float> d;         // [n, cols / 256]: max |x| / 127 of each 256 columns
  std::vector<int16_t> bsum;    // [n, cols / 16]: Σ of each 16 codes
  const float* x = nullptr;     // what they were made from
  int64_t n = 0, cols = 0;
};
void kquant_quantize(KQuantActs& a, const float* x, int64_t n, int64_t cols);

// y[n, w.rows] = x̂[n, w.cols] · Wᵀ (x̂: x rounded to int8 per 256 columns).
void kquant_linear(float* y, const float* x, int64_t n, const Weight& w);
// y[t · ldy + r] for weight rows r in [r0, r0 + nr) and all rows of `a` (a thread's share).
void kquant_linear_rows(float* y, int64_t ldy, const KQuantActs& a, const Weight& w, int64_t r0, int64_t nr);

// linear_batch's K-quant products: their weight rows split evenly over the threads in one
// parallel region, each distinct input quantized once; each output equals what kquant_linear()
// gives.
struct LinearJob;  // kernels/linear.h
void kquant_linear_batch(const LinearJob* jobs, size_t count);

// Columns [c0, c0 + nc) of row r as float32, exactly core/kquant_blocks.h's dequantization.
void kquant_row_span_f32(float* out, const Weight& w, int64_t r, int64_t c0, int64_t nc);

}  // namespace dsv3
