// A Linear layer in training: forward, and backward to its input and weight, with the operands
// of each product rounded as the precision mode says (see precision.h). The weight view must
// already hold the mode's weight values (the trainer quantizes every weight once per step).
#pragma once
#include <cstdint>

#include "kernels/weight.h"
#include "train/precision.h"

namespace dsv3 {

// y [n, W.rows] = q(x) · Wᵀ,  x [n, W.cols]
void tlinear_forward(float* y, const float* x, int64_t n, const Weight& w, Precision p);

// dx [n, W.cols] = q(dy) · W            (overwritten; skipped when dx is null)
// dw [W.rows, W.cols] += q(dy)ᵀ · q(x)  (skipped when dw is null)
void tlinear_backward(float* dx, float* dw, const float* dy, const float* x, int64_t n, const Weight& w,
                      Precision p);

}  // namespace dsv3
