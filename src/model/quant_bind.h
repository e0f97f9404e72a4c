// Binding a checkpoint's GPTQ tensors to an INT4 weight the kernels stream (repacked once).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "io/safetensors.h"
#include "kernels/quant_weight.h"
#include "model/quant_config.h"

namespace dsv3 {

// The INT4 binders return the layout int4_choose_layout picks (kernels/quant_weight.h).
// <stem>.qweight [in/8, out] I32, .qzeros [groups, ⌈out/8⌉] I32, .scales [groups, out] F16 and
// optional .g_idx [in] I32 of W [rows = out, cols = in]; throws Error naming the file and tensor.
Int4Matrix bind_gptq(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales,
                     const TensorInfo* g_idx, int64_t rows, int64_t cols, const QuantConfig& q);

// An 8-bit GPTQ matrix (.qweight [in/4, out], .qzeros [groups, ⌈out/4⌉], .scales and .g_idx as
// for 4 bits). Symmetric (every zero 128) in natural column order it is Q8_0 blocks, each 32
// columns the group's F16 scale and the codes q − 128, so it binds exactly as llama.cpp's Q8_0
// does (int8_from_q8_0: the INT8 kernels at 8.5 bits a weight); with zero points or act-order it
// is dequantized exactly to float32 (`f32`, rows unset). Throws Error naming the file and tensor.
struct Gptq8 {
  std::optional<Int8Rows> rows;
  std::vector<float> f32;  // [rows, cols]
};
Gptq8 bind_gptq8(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales, const TensorInfo* g_idx,
                 int64_t rows, int64_t cols, const QuantConfig& q);

// <stem>.qweight [in, out/8] I32, .qzeros [groups, out/8] I32, .scales [groups, out] F16 (AWQ GEMM).
Int4Matrix bind_awq(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales, int64_t rows,
                    int64_t cols, const QuantConfig& q);

// compressed-tensors int-quantized (W8A8): <stem>.weight I8 [rows, cols] and .weight_scale
// [rows, 1] (per channel) or [1] (per tensor) in F32/BF16/F16, with an optional
// .weight_zero_point that must be all zero (symmetric). W as float32, each code times its row's
// scale (exact for F16/BF16 scales); throws Error naming the file and tensor.
std::vector<float> dequantize_w8a8(const TensorInfo& weight, const TensorInfo& scale, const TensorInfo* zero_point,
                                   int64_t rows, int64_t cols);

// llama.cpp's Q4_0 blocks of W [rows, cols] (cols a multiple of 32, gguf_types.h), repacked
// exactly: each block of 32 values is one INT4 group of 32 with code q, d the block's F16 scale
// and m = -8·d (exact in F16), so w = q·d + m = d·(q - 8) as llama.cpp dequantizes it. `name`
// (the tensor's) picks the layout (int4_choose_layout).
Int4Matrix int4_from_q4_0(const uint8_t* blocks, int64_t rows, int64_t cols, std::string_view name);

// llama.cpp's Q8_0 blocks of W [rows, cols] (cols a multiple of 32: f16 d, int8 q[32]) split
// exactly into int8 codes and scales, so w = q·d as llama.cpp has it: in 16-row tiles with the
// F16 scales where int8_tiles_pay(name) (the tensor's name), else in rows (scales widened).
Int8Rows int8_from_q8_0(const uint8_t* blocks, int64_t rows, int64_t cols, std::string_view name);

}  // namespace dsv3
