// The one list of a config's tensors: for each, its Hugging Face name, shape, role and whether
// the config has it. Binding a checkpoint (weights.h), the trainer's parameter layout
// (train/params.h), parameter counting (param_count.h), quantization's choice of matrices
// (dsv3 quantize) and checkpoint export all derive from it, as DeepSeek's reference converter
// derives everything from its single name-mapping table.
//
// Existence conditions (the only places a config decides which tensors there are):
//   q_a_proj, q_a_layernorm, q_b_proj      q_lora_rank > 0 (else q_proj)
//   mlp.gate_proj/up_proj/down_proj        dense layers: !is_moe_layer(i)
//   mlp.gate, mlp.experts.*                MoE layers
//   mlp.shared_experts.*                   MoE layers with n_shared_experts > 0
//   mlp.gate.e_score_correction_bias       MoE layers with topk_method noaux_tc (the only method
//                                          that routes with it; elsewhere a stray one is unused)
//   lm_head.weight                         !tie_word_embeddings (tied: the embedding is the head)
//   layer num_hidden_layers + k            k < num_nextn_predict_layers (MTP modules)
// FP8 checkpoints add <matrix>_scale_inv beside every matrix stored as F8_E4M3 (weights.h).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/config.h"
#include "model/weights.h"

namespace dsv3 {

// How a tensor is used, which decides its precision, quantization and weight decay.
enum class TensorRole : uint8_t {
  kLinear,   // attention / MLP / expert / eh_proj matrices: FP8 in checkpoints and in training's FP8 mode
  kHigh,     // embedding, output head, router gate: kept in higher precision
  kNorm,     // RMSNorm weights: no weight decay
  kBias,     // e_score_correction_bias: moved by the balancing rule, not by gradient
  kMtpCopy,  // the released checkpoints' copies of the shared embedding and head under each MTP
             // layer: written on export, shape-checked when present on load, never used
};

struct TensorSpec {
  std::string name;            // e.g. "model.layers.1.self_attn.q_a_proj.weight"
  std::vector<int64_t> shape;  // [rows, cols] or [size]
  TensorRole role = TensorRole::kLinear;
  int64_t size() const;
};

// Every tensor of a config in checkpoint order: embedding, layers, norm, head, MTP modules
// (each with its two copies last).
class TensorTable {
 public:
  explicit TensorTable(const ModelConfig& cfg);
  const std::vector<TensorSpec>& tensors() const { return tensors_; }
  // The tensor called name, or nullptr when the config has no such tensor.
  const TensorSpec* find(const std::string& name) const;

 private:
  std::vector<TensorSpec> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

// The fields of ModelWeights in the table's order: mat(name, weight, role) for every matrix and
// vec(name, vector, role) for every vector (the kMtpCopy entries have no field and are skipped;
// a tied head too).
struct TensorVisitor {
  std::function<void(const std::string&, Weight&, TensorRole)> mat;
  std::function<void(const std::string&, Vec&, TensorRole)> vec;
};
void for_each_tensor(const ModelConfig& cfg, ModelWeights& w, const TensorVisitor& v);
// The same walk over bound weights, read-only (parameter and byte counts).
struct ConstTensorVisitor {
  std::function<void(const std::string&, const Weight&, TensorRole)> mat;
  std::function<void(const std::string&, const Vec&, TensorRole)> vec;
};
void for_each_tensor(const ModelConfig& cfg, const ModelWeights& w, const ConstTensorVisitor& v);

// A ModelWeights with every shape set and no data: the structure the config implies.
ModelWeights weights_skeleton(const ModelConfig& cfg);

}  // namespace dsv3
