#include "kernels/precision.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "core/fp8_blocks.h"

namespace dsv3 {

Precision parse_precision(const std::string& s) {
  if (s == "f32" || s == "fp32" || s == "float32") return Precision::kF32;
  if (s == "bf16") return Precision::kBF16;
  if (s == "fp8") return Precision::kFP8;
  fail("precision '", s, "' is not f32, bf16 or fp8");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::kF32: return "f32";
    case Precision::kBF16: return "bf16";
    case Precision::kFP8: return "fp8";
  }
  return "?";
}

float fp8_round(float v) {
  const float a = std::fabs(v);
  if (!(a < kFp8Max)) return std::isnan(v) ? v : std::copysign(kFp8Max, v);
  float r;
  if (a < 0x1p-6f) {
    r = std::nearbyint(a * 512.0f) * (1.0f / 512.0f);  // subnormals: a fixed step of 2^-9
  } else {
    uint32_t u;
    std::memcpy(&u, &a, 4);
    u += 0x7ffffu + ((u >> 20) & 1u);  // keep 3 mantissa bits, ties to even
    u &= ~0xfffffu;
    std::memcpy(&r, &u, 4);
    r = std::min(r, kFp8Max);
  }
  return std::copysign(r, v);
}

float bf16_round(float v) { return bf16_to_f32(f32_to_bf16(v)); }

void bf16_round_all(float* x, int64_t count) {
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (int64_t i = 0; i < count; ++i) x[i] = bf16_round(x[i]);
}

namespace {

// Quantizes the elements x[i0 + j·stride], j < n, with one scale.
void quantize_group(float* x, int64_t n, int64_t stride) {
  float amax = 0.0f;
  for (int64_t j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j * stride]));
  if (amax == 0.0f) return;
  const float scale = amax / kFp8Max, inv = kFp8Max / amax;
  for (int64_t j = 0; j < n; ++j) x[j * stride] = fp8_round(x[j * stride] * inv) * scale;
}

}  // namespace

void fp8_quantize_row_tiles(float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; c += kFp8Tile) quantize_group(x + r * cols + c, std::min(kFp8Tile, cols - c), 1);
}

void fp8_quantize_col_tiles(float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t c = 0; c < cols; ++c)
    for (int64_t r = 0; r < rows; r += kFp8Tile) quantize_group(x + r * cols + c, std::min(kFp8Tile, rows - r), cols);
}

// The stored weight format's own encoder (a checkpoint quantized by `dsv3 quantize` holds
// exactly these values), decoded back to float32.
void fp8_quantize_blocks(float* x, int64_t rows, int64_t cols) {
  fp8_decode_blocks(fp8_encode_blocks(x, rows, cols, kFp8Tile), rows, cols, kFp8Tile, x);
}

}  // namespace dsv3
