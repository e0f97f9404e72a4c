// quantization_config of a Hugging Face config.json: which published layout the checkpoint's
// linear weights use (docs/quantization.md).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace dsv3 {

struct ModelConfig;

struct QuantConfig {
  // "" (none), "fp8" (DeepSeek's block FP8), "blockwise_int8" (the same layout with int8
  // codes), "gptq" (qweight/qzeros/scales/g_idx), "awq" (qweight/qzeros/scales, GEMM packing),
  // "compressed-tensors" (format int-quantized: int8 weights with per-channel or per-tensor
  // weight_scale, as llm-compressor writes W8A8)
  std::string method;
  int bits = 0;                  // gptq, awq: 4
  int64_t group_size = 0;        // gptq, awq; gptq's -1 (one group per row) is stored as 0
  bool desc_act = false;         // gptq act-order (g_idx permuted)
  bool zeros_minus_one = true;   // gptq checkpoint_format "gptq" (zeros stored minus one) vs "gptq_v2"
};

// Fills cfg.quant (and cfg.fp8_quantized / weight_block_size); throws Error naming `what`.
void parse_quantization_config(const nlohmann::json& q, const std::string& what, ModelConfig& cfg);

}  // namespace dsv3
