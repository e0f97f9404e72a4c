#include "io/json_file.h"
#include "model/gguf_config.h"

#include <cmath>

#include "core/error.h"

namespace dsv3 {

namespace {

const std::string kArch = "deepseek2";

class Meta {
 public:
  Meta(const GgufContents& c, const std::string& path) : c_(c), path_(path) {}

  const GgufValue* find(const std::string& key) const {
    auto it = c_.metadata.find(key);
    return it == c_.metadata.end() ? nullptr : &it->second;
  }
  int64_t integer(const std::string& key, int64_t fallback, bool required = false) const {
    const GgufValue* v = find(key);
    if (!v) {
      if (required) fail(path_, ": missing metadata '", key, "'");
      return fallback;
    }
    if (v->kind != GgufValue::Int && v->kind != GgufValue::Bool) fail(path_, ": metadata '", key, "' must be an integer");
    return v->i;
  }
  double number(const std::string& key, double fallback) const {
    const GgufValue* v = find(key);
    if (!v) return fallback;
    if (v->kind == GgufValue::Int) return double(v->i);
    if (v->kind != GgufValue::Float) fail(path_, ": metadata '", key, "' must be a number");
    return v->f;
  }
  std::string string(const std::string& key) const {
    const GgufValue* v = find(key);
    if (v && v->kind != GgufValue::String) fail(path_, ": metadata '", key, "' must be a string");
    return v ? v->s : "";
  }

 private:
  const GgufContents& c_;
  const std::string& path_;
};

bool has_tensor(const GgufContents& c, const std::string& suffix) {
  for (const auto& t : c.tensors)
    if (t.name.size() >= suffix.size() && t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return true;
  return false;
}

// f32 metadata read back as double: 0.1f · m / 0.1 is m only to ~1e-8, so round to 6 places.
double round6(double x) { return std::round(x * 1e6) / 1e6; }

}  // namespace

ModelConfig gguf_model_config(const GgufContents& c, const std::string& path) {
  const Meta m(c, path);
  const std::string arch = m.string("general.architecture");
  if (arch != kArch)
    fail(path, ": general.architecture is '", arch, "'; dsv3 reads GGUF files of the deepseek2 architecture");
  const std::string p = kArch + ".";
  // The Hugging Face config.json these keys describe, checked by the same parser as one.
  json j;
  const int64_t nextn = m.integer(p + "nextn_predict_layers", 0);
  j["num_hidden_layers"] = m.integer(p + "block_count", 0, true) - nextn;
  j["num_nextn_predict_layers"] = nextn;
  j["hidden_size"] = m.integer(p + "embedding_length", 0, true);
  j["intermediate_size"] = m.integer(p + "feed_forward_length", 0, true);
  j["max_position_embeddings"] = m.integer(p + "context_length", 4096);
  const GgufValue* tokens = m.find("tokenizer.ggml.tokens");
  j["vocab_size"] = m.integer(p + "vocab_size", tokens ? int64_t(tokens->items.size()) : 0, !tokens);
  j["num_attention_heads"] = m.integer(p + "attention.head_count", 0, true);
  j["num_key_value_heads"] = j["num_attention_heads"];
  const int64_t q_lora = m.integer(p + "attention.q_lora_rank", 0);
  j["q_lora_rank"] = q_lora > 0 ? json(q_lora) : json(nullptr);
  j["kv_lora_rank"] = m.integer(p + "attention.kv_lora_rank", 0, true);
  const int64_t rope = m.integer(p + "rope.dimension_count", 0, true);
  const bool mla = m.find(p + "attention.key_length_mla") != nullptr;
  const int64_t qk = m.integer(p + (mla ? "attention.key_length_mla" : "attention.key_length"), 0, true);
  j["qk_rope_head_dim"] = rope;
  j["qk_nope_head_dim"] = qk - rope;
  j["v_head_dim"] = m.integer(p + (mla ? "attention.value_length_mla" : "attention.value_length"), 0, true);
  j["rms_norm_eps"] = m.number(p + "attention.layer_norm_rms_epsilon", 1e-6);
  j["rope_theta"] = m.number(p + "rope.freq_base", 10000.0);
  const std::string scaling = m.string(p + "rope.scaling.type");
  if (scaling == "yarn") {
    const double mscale = round6(m.number(p + "rope.scaling.yarn_log_multiplier", 0.0) / 0.1);
    j["rope_scaling"] = {{"type", "yarn"},
                         {"factor", m.number(p + "rope.scaling.factor", 1.0)},
                         {"original_max_position_embeddings", m.integer(p + "rope.scaling.original_context_length", 4096)},
                         {"beta_fast", m.number(p + "rope.scaling.yarn_beta_fast", 32.0)},
                         {"beta_slow", m.number(p + "rope.scaling.yarn_beta_slow", 1.0)},
                         {"mscale", mscale},
                         {"mscale_all_dim", mscale}};
  } else if (!scaling.empty() && scaling != "none") {
    fail(path, ": rope.scaling.type '", scaling, "' is not supported (yarn or none)");
  }
  const int64_t experts = m.integer(p + "expert_count", 0);
  j["n_routed_experts"] = experts;
  j["moe_intermediate_size"] = m.integer(p + "expert_feed_forward_length", 0, experts > 0);
  j["num_experts_per_tok"] = m.integer(p + "expert_used_count", 0, experts > 0);
  j["n_shared_experts"] = m.integer(p + "expert_shared_count", 0);
  j["n_group"] = m.integer(p + "expert_group_count", 1);
  j["topk_group"] = m.integer(p + "expert_group_used_count", 1);
  j["first_k_dense_replace"] = m.integer(p + "leading_dense_block_count", 0);
  j["routed_scaling_factor"] = m.number(p + "expert_weights_scale", 1.0);
  j["norm_topk_prob"] = m.integer(p + "expert_weights_norm", 0) != 0;
  const int64_t gating = m.integer(p + "expert_gating_func", 1);
  if (gating != 1 && gating != 2) fail(path, ": expert_gating_func ", gating, " is not supported (1 softmax, 2 sigmoid)");
  j["scoring_func"] = gating == 2 ? "sigmoid" : "softmax";
  const bool biased = has_tensor(c, ".exp_probs_b.bias");
  j["topk_method"] = biased ? "noaux_tc" : j["n_group"].get<int64_t>() > 1 ? "group_limited_greedy" : "greedy";
  j["tie_word_embeddings"] = !has_tensor(c, "output.weight");
  const bool v3 = gating == 2;
  j["architectures"] = {v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"};
  j["model_type"] = v3 ? "deepseek_v3" : "deepseek_v2";
  if (m.find("tokenizer.ggml.bos_token_id")) j["bos_token_id"] = m.integer("tokenizer.ggml.bos_token_id", -1);
  if (m.find("tokenizer.ggml.eos_token_id")) j["eos_token_id"] = m.integer("tokenizer.ggml.eos_token_id", -1);
  return parse_config(j, path);
}

void add_gguf_model_config(GgufWriter& w, const ModelConfig& c) {
  if (c.moe_layer_freq != 1) fail("moe_layer_freq ", c.moe_layer_freq, " cannot be written to GGUF (llama.cpp has no such key)");
  const std::string p = kArch + ".";
  const auto u32 = [&](const std::string& k, int64_t v) { w.add_u32(p + k, uint32_t(v)); };
  w.add_string("general.architecture", kArch);
  u32("block_count", c.num_hidden_layers + c.num_nextn_predict_layers);
  if (c.num_nextn_predict_layers > 0) u32("nextn_predict_layers", c.num_nextn_predict_layers);
  u32("context_length", c.max_position_embeddings);
  u32("embedding_length", c.hidden_size);
  u32("feed_forward_length", c.intermediate_size);
  u32("vocab_size", c.vocab_size);
  u32("attention.head_count", c.num_attention_heads);
  u32("attention.head_count_kv", 1);  // MLA as llama.cpp runs it: one latent "head" shared by all
  if (c.q_lora_rank > 0) u32("attention.q_lora_rank", c.q_lora_rank);
  u32("attention.kv_lora_rank", c.kv_lora_rank);
  u32("attention.key_length", c.kv_lora_rank + c.qk_rope_head_dim);
  u32("attention.value_length", c.kv_lora_rank);
  u32("attention.key_length_mla", c.qk_head_dim());
  u32("attention.value_length_mla", c.v_head_dim);
  w.add_f32(p + "attention.layer_norm_rms_epsilon", float(c.rms_norm_eps));
  u32("rope.dimension_count", c.qk_rope_head_dim);
  w.add_f32(p + "rope.freq_base", float(c.rope_theta));
  if (c.rope_scaling.yarn) {
    const RopeScaling& r = c.rope_scaling;
    w.add_string(p + "rope.scaling.type", "yarn");
    w.add_f32(p + "rope.scaling.factor", float(r.factor));
    u32("rope.scaling.original_context_length", r.original_max_position_embeddings);
    w.add_f32(p + "rope.scaling.yarn_log_multiplier", float(0.1 * r.mscale_all_dim));
    w.add_f32(p + "rope.scaling.yarn_beta_fast", float(r.beta_fast));
    w.add_f32(p + "rope.scaling.yarn_beta_slow", float(r.beta_slow));
  }
  u32("leading_dense_block_count", c.n_routed_experts > 0 ? c.first_k_dense_replace : c.num_hidden_layers);
  u32("expert_feed_forward_length", c.n_routed_experts > 0 ? c.moe_intermediate_size : c.intermediate_size);
  u32("expert_count", c.n_routed_experts);
  u32("expert_used_count", c.num_experts_per_tok);
  u32("expert_shared_count", c.n_shared_experts);
  // Groups only where they route: a greedy config's n_group would read back as group-limited.
  const bool grouped = c.topk_method != TopkMethod::kGreedy;
  u32("expert_group_count", grouped ? c.n_group : 1);
  u32("expert_group_used_count", grouped ? c.topk_group : 1);
  w.add_f32(p + "expert_weights_scale", float(c.routed_scaling_factor));
  w.add_bool(p + "expert_weights_norm", c.norm_topk_prob);
  u32("expert_gating_func", c.scoring_func == ScoringFunc::kSigmoid ? 2 : 1);
}

}  // namespace dsv3
