// A llama.cpp `deepseek2` GGUF file (or a split set x-00001-of-0000N.gguf) opened as a
// Checkpoint under Hugging Face names, so the model binds it like a safetensors folder
// (weights.h). What each GGUF tensor becomes:
//   F32, F16, BF16     used in place from the memory map (one expert's slab of a merged
//                      *_exps tensor is a contiguous range of it)
//   Q4_0, Q8_0         kept at their bits: repacked exactly at load for the INT4 / INT8
//                      kernels (model/quant_bind.h)
//   Q4_K, Q5_K, Q6_K   kept as their super-blocks, used in place from the memory map by the
//                      K-quant kernels (kernels/kquant.h)
//   Q5_0               widened exactly to Q8_0 blocks at load (kept in memory)
//   attn_k_b + attn_v_b (newer files) are put back together into kv_b_proj, in the source's
//                      own dtype when both are F32/F16/BF16 (a pure permutation), else BF16;
//                      each one of the quantized types above is also kept at its bits, as the
//                      decode attention's w_uk / w_uv (model/weights.h's MlaWeights)
// Tensors of the file that the config does not use are kept under their GGUF names, so the
// model lists them as unused.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "model/config.h"

namespace dsv3 {

bool is_gguf_path(const std::string& path);  // a path ending in ".gguf"

// The files of the set `path` belongs to: "x-0000k-of-0000N.gguf" gives all N (each must exist),
// any other name itself. Throws Error naming the missing file.
std::vector<std::string> gguf_split_paths(const std::string& path);

struct GgufModel {
  ModelConfig config;
  std::unique_ptr<Checkpoint> checkpoint;
};

// Opens the set, reads the config from its metadata and every tensor the config implies;
// throws Error naming the file and tensor at fault (architecture, missing tensor, shape).
GgufModel open_gguf_model(const std::string& path);

}  // namespace dsv3
