#include "model/gguf_names.h"

#include <cstdlib>
#include <utility>

#include "core/error.h"

namespace dsv3 {

namespace {

// Within a layer: Hugging Face suffix -> llama.cpp suffix.
constexpr std::pair<const char*, const char*> kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.q_a_proj.weight", "attn_q_a.weight"},
    {"self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"},
    {"self_attn.q_b_proj.weight", "attn_q_b.weight"},
    {"self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"},
    {"self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"},
    {"self_attn.kv_b_proj.weight", "attn_kv_b.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate.weight", "ffn_gate_inp.weight"},
    {"mlp.gate.e_score_correction_bias", "exp_probs_b.bias"},
    {"mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"},
    {"mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"},
    {"mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"},
};

// The MTP module's own tensors (layer num_hidden_layers + k).
constexpr std::pair<const char*, const char*> kNextnNames[] = {
    {"enorm.weight", "nextn.enorm.weight"},
    {"hnorm.weight", "nextn.hnorm.weight"},
    {"eh_proj.weight", "nextn.eh_proj.weight"},
    {"shared_head.norm.weight", "nextn.shared_head_norm.weight"},
    {"embed_tokens.weight", "nextn.embed_tokens.weight"},
    {"shared_head.head.weight", "nextn.shared_head_head.weight"},
};

GgufName layer_name(int64_t i, const std::string& rest, bool mtp) {
  const std::string blk = cat("blk.", i, ".");
  for (const auto& [hf, gg] : kLayerNames)
    if (rest == hf) return {blk + gg};
  if (mtp)
    for (const auto& [hf, gg] : kNextnNames)
      if (rest == hf) return {blk + gg};
  // mlp.experts.<E>.<gate|up|down>_proj.weight
  const std::string experts = "mlp.experts.";
  if (rest.rfind(experts, 0) != 0) return {};
  const char* p = rest.c_str() + experts.size();
  char* end = nullptr;
  const long e = std::strtol(p, &end, 10);
  if (end == p || *end != '.') return {};
  const std::string proj = end + 1;
  for (const char* w : {"gate", "up", "down"})
    if (proj == std::string(w) + "_proj.weight") return {cat(blk, "ffn_", w, "_exps.weight"), e};
  return {};
}

}  // namespace

GgufName gguf_name(const std::string& hf, int64_t num_hidden_layers) {
  if (hf == "model.embed_tokens.weight") return {"token_embd.weight"};
  if (hf == "model.norm.weight") return {"output_norm.weight"};
  if (hf == "lm_head.weight") return {"output.weight"};
  const std::string layers = "model.layers.";
  if (hf.rfind(layers, 0) != 0) return {};
  const char* p = hf.c_str() + layers.size();
  char* end = nullptr;
  const long i = std::strtol(p, &end, 10);
  if (end == p || *end != '.') return {};
  return layer_name(i, end + 1, i >= num_hidden_layers);
}

std::string gguf_k_b_name(int64_t layer) { return cat("blk.", layer, ".attn_k_b.weight"); }
std::string gguf_v_b_name(int64_t layer) { return cat("blk.", layer, ".attn_v_b.weight"); }

}  // namespace dsv3
