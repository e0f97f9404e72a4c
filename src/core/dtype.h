// Element types of checkpoint tensors and their scalar conversions to float32.
// BF16/F16/F8_E4M3 are widened exactly (every such value is representable in float32).
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dsv3 {

enum class DType : uint8_t { F32, F16, BF16, F8_E4M3, F64, I64, I32, I16, I8, U8, BOOL };

std::string_view dtype_name(DType t);           // safetensors spelling: "BF16", "F8_E4M3", ...
bool dtype_from_name(std::string_view s, DType* out);
size_t dtype_size(DType t);                     // bytes per element

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round-to-nearest-even, as torch does when casting float32 to bfloat16.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// E4M3 "fn" (no infinities, S.1111.111 is NaN, max 448) as used by DeepSeek-V3's FP8 weights.
constexpr float kFp8E4M3Max = 448.0f;
// The side of the square blocks (weights) and the length of the tiles (activations) that share
// one FP8 scale in DeepSeek-V3's recipe and checkpoints (quantization_config.weight_block_size).
constexpr int64_t kFp8BlockSize = 128;
extern const std::array<float, 256> kFp8E4M3ToF32;
inline float fp8_e4m3_to_f32(uint8_t v) { return kFp8E4M3ToF32[v]; }
// Round-to-nearest-even, saturating at +-448 (the training recipe's quantizer).
uint8_t f32_to_fp8_e4m3(float f);

}  // namespace dsv3
