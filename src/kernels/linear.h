// Matrix products against a stored Weight, accumulated in float32. Threads split the output.
#pragma once
#include <cstdint>

#include "kernels/weight.h"

namespace dsv3 {

// y[n, W.rows] = x[n, W.cols] · Wᵀ       (a bias-free Linear layer: y = x Aᵀ)
void linear(float* y, const float* x, int64_t n, const Weight& w);

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
