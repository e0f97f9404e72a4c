// Writes a loaded model as a llama.cpp `deepseek2` GGUF file (or split set), with llama.cpp's
// tensor names and metadata (gguf_names.h, gguf_config.h), so llama.cpp and dsv3 run the very
// same weights. Per tensor:
//   norms, exp_probs_b, the router (ffn_gate_inp)   F32, as llama.cpp keeps them
//   every other matrix                               `type`: F32, F16, BF16, Q8_0, Q4_0 or Q6_K (round
//                                                    to nearest, gguf_writer.h); Q6_K falls back to
//                                                    Q8_0 for rows not whole 256-value super-blocks,
//                                                    a quantized type to BF16 for rows not whole
//                                                    32-value blocks
//   kv_b_proj                                        split into attn_k_b and attn_v_b (the form
//                                                    current llama.cpp reads)
//   routed experts                                   stacked per layer into ffn_*_exps
// Values are read through the model's own weights, so any format dsv3 loads (BF16, FP8, INT8,
// GPTQ, AWQ, GGUF) can be written.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/gguf_writer.h"
#include "model/model.h"

namespace dsv3 {

struct GgufExportOptions {
  GgmlType type = GgmlType::BF16;
  bool mtp = false;            // write the MTP modules as blk.<L+k>.nextn.* (llama.cpp's converter
                               // leaves them out for DeepSeek-V3, and its loader rejects extra tensors)
  int64_t split_tensors = 0;   // > 0: at most this many tensors per file, named x-0000k-of-0000N.gguf
  std::string name;            // general.name
};

// Writes `out` (x.gguf; for a split set, x-00001-of-0000N.gguf ...); add_meta adds keys to the
// first file (the tokenizer). Returns the paths written.
std::vector<std::string> write_gguf_model(const Model& model, const std::string& out, const GgufExportOptions& opt,
                                          const std::function<void(GgufWriter&)>& add_meta);

// "f32", "f16", "bf16", "q8_0", "q4_0", "q6_k" (any case); throws Error listing them.
GgmlType gguf_export_type(const std::string& name);

}  // namespace dsv3
