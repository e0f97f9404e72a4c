// Matrix products against a stored Weight, accumulated in float32. Threads split the output.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/weight.h"

namespace dsv3 {

// How many-row products (prefill) multiply BF16 and FP8 weights. Bf16: activations rounded to
// BF16, as DeepSeek's own BF16 inference does, on the CPU's BF16 dot-product instruction where
// it has one (vdpbf16ps; elsewhere the float32 GEMM runs anyway). F32: the exact float32 GEMM,
// the reference and the default (dsv3 logits, training, tests). Decode-shaped products (<= 8
// rows) are float32 in both.
enum class PrefillMath { Bf16, F32 };
void set_prefill_math(PrefillMath m);
PrefillMath prefill_math();
// DSV3_PREFILL_MATH=f32|bf16 if set, else `fallback` (what a command defaults to).
void set_prefill_math_default(PrefillMath fallback);

// How decode-shaped products (<= 8 rows) multiply FP8 and BF16 weights. Bf16: FP8 products with
// the activations (times the block scales) rounded to BF16, as DeepSeek's own inference does, on
// vdpbf16ps where the CPU has it (elsewhere the float32 kernel runs anyway); each row's result
// still does not depend on its batch. Bf16All: BF16 weights' products too. F32: exact float32
// products, the reference and the default (dsv3 logits, tests, serve). BF16 weights stay exact
// under Bf16, the default of generate, chat and bench, because serve (F32) must give the same
// greedy output as generate and rounding moves the tiny fixtures' close greedy choices.
enum class DecodeMath { Bf16, Bf16All, F32 };
void set_decode_math(DecodeMath m);
DecodeMath decode_math();
const char* decode_math_name(DecodeMath m);  // "bf16", "bf16-all", "f32"
// DSV3_DECODE_MATH=f32|bf16|bf16-all if set, else `fallback` (what a command defaults to).
void set_decode_math_default(DecodeMath fallback);

// y[n, W.rows] = x[n, W.cols] · Wᵀ       (a bias-free Linear layer: y = x Aᵀ)
void linear(float* y, const float* x, int64_t n, const Weight& w);

// One product of a batch: y[n, w.rows] = x[n, w.cols] · wᵀ.
// A decode product's weight rows split into `chunks` nearly equal pieces on 16-row boundaries,
// as many as max_rows-row pieces would need rounded up to a multiple of the thread count, so a
// static split gives each thread the same rows (576 rows, 2 threads: 288 each, not 320 and 256).
int64_t row_chunk_count(int64_t R, int64_t max_rows);
inline int64_t row_chunk_begin(int64_t R, int64_t i, int64_t chunks) {  // piece i is [begin(i), begin(i + 1))
  return i >= chunks ? R : std::min(R, (i * R / chunks + 8) / 16 * 16);
}

struct LinearJob {
  float* y;
  const float* x;
  int64_t n;
  Weight w;
};

// Several independent products at once (a MoE layer's experts): the weight rows of all the
// few-row products are split evenly over the threads in one parallel region, so every thread
// streams weights the whole time instead of forking per small matrix; each output equals what
// linear() gives. INT8/INT4 products join the split (each distinct input quantized once);
// many-row products (the GEMM) run one after another.
void linear_batch(const LinearJob* jobs, size_t count);

// y[n, W.cols] = x[n, W.rows] · W         (the transposed product: MLA weight absorption,
//                                           input gradients in training)
void linear_t(float* y, const float* x, int64_t n, const Weight& w);

// Row r of W widened to float32 (FP8: code value times its block's scale).
void weight_row_f32(float* out, const Weight& w, int64_t r);

// Columns [c0, c0 + nc) of row r widened to float32.
void weight_row_span_f32(float* out, const Weight& w, int64_t r, int64_t c0, int64_t nc);

// dW[R, C] += dyᵀ · x  over n rows: dy [n, R], x [n, C]   (the weight gradient of a Linear layer;
// dW is float32, e.g. the trainer's gradient buffer)
void linear_dw(float* dw, const float* dy, const float* x, int64_t n, int64_t R, int64_t C);

}  // namespace dsv3
