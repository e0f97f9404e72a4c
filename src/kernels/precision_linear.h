// A Linear layer at a precision mode (precision.h): the forward every layer of src/model calls,
// and the backward to its input and weight that src/train calls. In float32 mode the forward is
// exactly kernels/linear.h's product over the stored weight (inference's path, no copy); in the
// BF16/FP8 modes each product's operands are rounded first, and the weight view must already
// hold the mode's weight values (the trainer quantizes every weight once per step).
#pragma once
#include <cstdint>

#include "kernels/precision.h"
#include "kernels/weight.h"

namespace dsv3 {

// y [n, W.rows] = q(x) · Wᵀ,  x [n, W.cols]
void linear_forward(float* y, const float* x, int64_t n, const Weight& w, Precision p);

// dx [n, W.cols] = q(dy) · W            (overwritten; skipped when dx is null)
// dw [W.rows, W.cols] += q(dy)ᵀ · q(x)  (skipped when dw is null)
void linear_backward(float* dx, float* dw, const float* dy, const float* x, int64_t n, const Weight& w,
                     Precision p);

}  // namespace dsv3
