// Backward of the element-wise and row-wise operations of kernels/ops.h. Rows are independent,
// so dx is parallel over rows; weight gradients are summed over rows in order (deterministic
// for any thread count).
#pragma once
#include <cstdint>

namespace dsv3 {

// y = x / rms(x) * w  over rows of x [n, dim]:
// dx [n, dim] = (overwritten, or added to when accumulate) ;  dw [dim] += Σ_rows dy ⊙ x / rms(x)
void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int64_t n,
                      int64_t dim, float eps, bool accumulate = false);

// out = silu(gate) ⊙ up:  dgate, dup [count] (overwritten)
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t count);

// The inverse of rmsnorm's per-row scale 1/rms(x), as the forward computes it.
float rms_inv(const float* x, int64_t dim, float eps);

}  // namespace dsv3
