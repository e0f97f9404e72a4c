// Training precision modes and the quantize-dequantize emulation of DeepSeek-V3's FP8 recipe.
//
// float32: every product in float32.
// BF16:    the operands of every matmul rounded to BF16 (round-to-nearest-even), products
//          accumulated in float32, master weights float32.
// FP8:     the operands of every linear layer's three matmuls quantized to E4M3 with online
//          max-abs scaling (scale = amax / 448, round-to-nearest-even, saturating at 448):
//            forward   Y  = X·Wᵀ   X per 1×128 tile (a token's 128 channels), W per 128×128 block
//            dgrad     dX = dY·W   dY per 1×128 tile (a token's 128 output channels), W as above
//            wgrad     dW = dYᵀ·X  dY and X per 128×1 tile (one channel over 128 tokens)
//          i.e. every tile runs along the reduction dimension of its product, so one scale
//          multiplies each group of 128 products and float32 accumulation after each group is
//          exact "promotion". Embedding, output head, router gate use BF16; norms, softmax,
//          the attention core, SwiGLU and the losses stay float32.
// On a CPU this emulates the numerics (values are dequantized back to float32); it is not a
// speed-up.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace dsv3 {

enum class Precision : uint8_t { kF32, kBF16, kFP8 };

Precision parse_precision(const std::string& s);  // "f32" | "bf16" | "fp8"; throws Error
const char* precision_name(Precision p);
// The precision of the tensors DeepSeek-V3 keeps out of FP8 (embedding, head, gate).
inline Precision high_precision(Precision p) { return p == Precision::kF32 ? p : Precision::kBF16; }

constexpr int64_t kFp8Tile = kFp8BlockSize;
constexpr float kFp8Max = kFp8E4M3Max;

// The E4M3 value nearest to v (ties to even), saturating at ±448. Equals
// fp8_e4m3_to_f32(f32_to_fp8_e4m3(v)) for every finite v.
float fp8_round(float v);
// The BF16 value nearest to v (ties to even).
float bf16_round(float v);

// In-place quantize-dequantize of a row-major matrix x [rows, cols]:
void bf16_round_all(float* x, int64_t count);
void fp8_quantize_row_tiles(float* x, int64_t rows, int64_t cols);    // 1×128 tiles
void fp8_quantize_col_tiles(float* x, int64_t rows, int64_t cols);    // 128×1 tiles
void fp8_quantize_blocks(float* x, int64_t rows, int64_t cols);       // 128×128 blocks

}  // namespace dsv3
