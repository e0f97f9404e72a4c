#include "core/fp8_blocks.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"

namespace dsv3 {

namespace {
int64_t blocks(int64_t n, int64_t b) { return (n + b - 1) / b; }
}  // namespace

Fp8Blocks fp8_encode_blocks(const float* w, int64_t rows, int64_t cols, int64_t block) {
  const int64_t rb = blocks(rows, block), cb = blocks(cols, block);
  Fp8Blocks q;
  q.codes.resize(size_t(rows * cols));
  q.scale_inv.resize(size_t(rb * cb));
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t b = 0; b < rb * cb; ++b) {
    const int64_t r0 = (b / cb) * block, c0 = (b % cb) * block;
    const int64_t r1 = std::min(rows, r0 + block), c1 = std::min(cols, c0 + block);
    float amax = 0.0f;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
    const float scale = amax > 0.0f ? amax / kFp8E4M3Max : 1.0f, inv = amax > 0.0f ? kFp8E4M3Max / amax : 0.0f;
    q.scale_inv[size_t(b)] = scale;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) q.codes[size_t(r * cols + c)] = f32_to_fp8_e4m3(w[r * cols + c] * inv);
  }
  return q;
}

void fp8_decode_blocks(const Fp8Blocks& q, int64_t rows, int64_t cols, int64_t block, float* w) {
  const int64_t cb = blocks(cols, block);
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const float* scale = q.scale_inv.data() + (r / block) * cb;
    for (int64_t c = 0; c < cols; ++c)
      w[r * cols + c] = fp8_e4m3_to_f32(q.codes[size_t(r * cols + c)]) * scale[c / block];
  }
}

}  // namespace dsv3
