// The architecture as described by a Hugging Face config.json of DeepseekV3ForCausalLM or
// DeepseekV2ForCausalLM. V2 and V3 differ only by values here, never by code paths.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/json_fwd.h"
#include "model/quant_config.h"

namespace dsv3 {

struct RopeScaling {
  bool yarn = false;  // rope_scaling {"type": "yarn", ...}; null means plain RoPE
  double factor = 1.0;
  int64_t original_max_position_embeddings = 4096;
  double beta_fast = 32.0, beta_slow = 1.0;
  double mscale = 1.0, mscale_all_dim = 0.0;
};

// How the router scores experts: s_i = softmax_i(u) (DeepSeek-V2) or sigmoid(u_i) (V3).
enum class ScoringFunc : uint8_t { kSoftmax, kSigmoid };
// How it chooses them: plain top-k (greedy), top-k within the topk_group best groups scored by
// their max (group_limited_greedy, V2) or by the sum of their top-2 biased scores (noaux_tc, V3,
// the only method routing with e_score_correction_bias).
enum class TopkMethod : uint8_t { kGreedy, kGroupLimitedGreedy, kNoauxTc };

// config.json's spelling; parse_* throw Error naming `what` and listing the known values.
const char* scoring_func_name(ScoringFunc f);
const char* topk_method_name(TopkMethod m);
ScoringFunc parse_scoring_func(const std::string& s, const std::string& what);
TopkMethod parse_topk_method(const std::string& s, const std::string& what);

struct ModelConfig {
  std::string architecture = "DeepseekV3ForCausalLM";
  std::string model_type = "deepseek_v3";
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;       // dense MLP layers
  int64_t moe_intermediate_size = 0;   // each routed / shared expert
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  // Multi-head Latent Attention
  int64_t q_lora_rank = 0;             // 0 (null in JSON): plain q_proj
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  // DeepSeekMoE
  int64_t n_routed_experts = 0;        // 0: every layer is dense
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  TopkMethod topk_method = TopkMethod::kGreedy;
  ScoringFunc scoring_func = ScoringFunc::kSoftmax;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  // the rest
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t max_position_embeddings = 4096;
  int64_t num_nextn_predict_layers = 0;
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  bool tie_word_embeddings = false;
  bool fp8_quantized = false;          // quantization_config {"quant_method": "fp8"}
  int64_t weight_block_size = kFp8BlockSize;
  QuantConfig quant;                   // quantization_config (model/quant_config.h)
  std::string torch_dtype = "bfloat16";

  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  // YaRN is active when the context reaches past the original one (as in DeepSeek's reference).
  bool yarn_active() const {
    return rope_scaling.yarn && max_position_embeddings > rope_scaling.original_max_position_embeddings;
  }
  bool is_eos(int64_t token) const;
};

ModelConfig parse_config(const json& j, const std::string& what);  // throws Error naming `what`
ModelConfig load_config(const std::string& path);
json config_to_json(const ModelConfig& c);  // the HF config.json written next to trained weights

}  // namespace dsv3
