// DeepSeek-V3's block-scaled FP8 weights: a matrix [rows, cols] stored as E4M3 codes and one
// float32 multiplier per block × block tile (`weight_scale_inv`, [⌈rows/b⌉, ⌈cols/b⌉]), so
// w[r][c] ≈ e4m3(codes[r][c]) · scale_inv[r/b][c/b]. Each block's scale maps its largest
// magnitude to 448, the largest E4M3 value (online max-abs scaling, report §3.3.1).
#pragma once
#include <cstdint>
#include <vector>

namespace dsv3 {

struct Fp8Blocks {
  std::vector<uint8_t> codes;    // [rows, cols]
  std::vector<float> scale_inv;  // [⌈rows/block⌉, ⌈cols/block⌉]
};

// Quantizes w (row-major, finite values) with round-to-nearest-even. An all-zero block gets
// scale 1 and zero codes.
Fp8Blocks fp8_encode_blocks(const float* w, int64_t rows, int64_t cols, int64_t block);

// w = e4m3(codes) · scale_inv, the inverse up to the rounding of the encoding.
void fp8_decode_blocks(const Fp8Blocks& q, int64_t rows, int64_t cols, int64_t block, float* w);

}  // namespace dsv3
