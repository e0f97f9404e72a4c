// Block-wise symmetric scaling shared by the FP8 (E4M3) and block INT8 weight formats: a matrix
// w [rows, cols] is cut into block × block tiles (partial at the right and bottom edges); each
// tile gets one float32 multiplier scale_inv = amax / code_max (its largest magnitude maps to
// the code range's largest value; an all-zero tile gets 1), and every element is encoded from
// w · (code_max / amax), so w ≈ decode(code) · scale_inv. Only the element code differs between
// the formats (E4M3 round-to-nearest-even, or int8 round-to-nearest-even clamped to ±127).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace dsv3 {

inline int64_t block_count(int64_t n, int64_t block) { return (n + block - 1) / block; }

// codes [rows, cols] and scale_inv [⌈rows/block⌉, ⌈cols/block⌉] from w; code_of(x) encodes a
// value already mapped into [-code_max, code_max].
template <class Code, class CodeOf>
void encode_blocks(const float* w, int64_t rows, int64_t cols, int64_t block, float code_max, CodeOf code_of,
                   std::vector<Code>& codes, std::vector<float>& scale_inv) {
  const int64_t rb = block_count(rows, block), cb = block_count(cols, block);
  codes.resize(size_t(rows * cols));
  scale_inv.resize(size_t(rb * cb));
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t b = 0; b < rb * cb; ++b) {
    const int64_t r0 = (b / cb) * block, c0 = (b % cb) * block;
    const int64_t r1 = std::min(rows, r0 + block), c1 = std::min(cols, c0 + block);
    float amax = 0.0f;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
    // One division per tile, not per element; an all-zero tile keeps scale 1 and zero codes.
    const float to_code = amax > 0.0f ? code_max / amax : 0.0f;
    scale_inv[size_t(b)] = amax > 0.0f ? amax / code_max : 1.0f;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) codes[size_t(r * cols + c)] = code_of(w[r * cols + c] * to_code);
  }
}

// w [rows, cols] = value_of(code) · scale_inv of its tile.
template <class Code, class ValueOf>
void decode_blocks(const std::vector<Code>& codes, const std::vector<float>& scale_inv, int64_t rows, int64_t cols,
                   int64_t block, ValueOf value_of, float* w) {
  const int64_t cb = block_count(cols, block);
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const float* scale = scale_inv.data() + (r / block) * cb;
    for (int64_t c = 0; c < cols; ++c) w[r * cols + c] = value_of(codes[size_t(r * cols + c)]) * scale[c / block];
  }
}

}  // namespace dsv3
