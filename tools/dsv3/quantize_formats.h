// The weight formats dsv3 quantize writes, each in a published Hugging Face layout
// (docs/quantization.md): fp8 (DeepSeek-V3's release), int8 (blockwise_int8: the same layout
// with int8 codes; with --group, 8-bit GPTQ), int4 (GPTQ, round-to-nearest, --group columns per
// scale, symmetric or with --asym a zero point per group).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/json_file.h"

namespace dsv3::cli {

struct QuantTarget {
  std::string format = "fp8";
  int64_t block = 128;  // fp8 / int8: square block of one scale
  int64_t group = 128;  // int4: input columns per scale
  bool lm_head = false; // quantize the output head too (GPTQ's "lm_head": true)
  bool sym = true;      // GPTQ's "sym" (false: a zero point per group and output)
  bool gptq = false;    // the GPTQ layout: int4, or int8 given --group (8-bit GPTQ)
};

// Validates --format and --group (a multiple of 32; int4, or int8 for 8-bit GPTQ).
QuantTarget quant_target(const std::string& format, int64_t group, bool group_given, int64_t fp8_block);

using AddTensor = std::function<void(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                                     const void* data, size_t nbytes)>;

// Writes linear weight `name` (".weight"), values w [rows, cols], in the target's tensors.
void add_quantized(const QuantTarget& q, const std::string& name, const float* w, int64_t rows, int64_t cols,
                   const AddTensor& add);

json quantization_config(const QuantTarget& q);  // config.json's quantization_config
std::string describe(const QuantTarget& q);      // "FP8 (128x128 blocks)", for the summary line

}  // namespace dsv3::cli
