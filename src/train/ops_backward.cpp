#include "train/ops_backward.h"

#include <cmath>
#include <vector>

namespace dsv3 {

float rms_inv(const float* x, int64_t dim, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < dim; ++i) ss += double(x[i]) * x[i];
  return float(1.0 / std::sqrt(ss / double(dim) + double(eps)));
}

void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int64_t n,
                      int64_t dim, float eps, bool accumulate) {
  std::vector<float> invs(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (n * dim > (1 << 14))
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * dim;
    const float* g = dy + t * dim;
    const float inv = invs[size_t(t)] = rms_inv(xr, dim, eps);
    double s = 0.0;  // Σ_j w_j dy_j x_j
    for (int64_t j = 0; j < dim; ++j) s += double(w[j]) * g[j] * xr[j];
    const float c = float(s / double(dim)) * inv * inv * inv;
    float* o = dx + t * dim;
    if (accumulate)
      for (int64_t j = 0; j < dim; ++j) o[j] += inv * w[j] * g[j] - c * xr[j];
    else
      for (int64_t j = 0; j < dim; ++j) o[j] = inv * w[j] * g[j] - c * xr[j];
  }
  if (!dw) return;
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * dim;
    const float* g = dy + t * dim;
    const float inv = invs[size_t(t)];
    for (int64_t j = 0; j < dim; ++j) dw[j] += g[j] * xr[j] * inv;
  }
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t count) {
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) {
    const float g = gate[i], sig = 1.0f / (1.0f + std::exp(-g));
    const float silu = g * sig;
    dup[i] = dout[i] * silu;
    dgate[i] = dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
  }
}

}  // namespace dsv3
