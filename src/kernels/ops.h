// Element-wise and row-wise operations on float32 activations. x is [n, dim] row-major.
#pragma once
#include <cstdint>

namespace dsv3 {

// out = x / sqrt(mean(x²) + eps) * weight, per row        (RMSNorm, weight [dim])
void rmsnorm(float* out, const float* x, const float* weight, int64_t n, int64_t dim, float eps);

// out[i] = silu(gate[i]) * up[i]                             (SwiGLU)
void swiglu(float* out, const float* gate, const float* up, int64_t count);


// In-place softmax of one row of length n.
void softmax(float* x, int64_t n);

// y += x
void add_inplace(float* y, const float* x, int64_t count);

}  // namespace dsv3

namespace dsv3 {
// Vector primitives dispatched to the CPU's best instruction set.
float dot(const float* a, const float* b, int64_t n);
void axpy(float* y, float a, const float* x, int64_t n);  // y += a·x
}  // namespace dsv3
