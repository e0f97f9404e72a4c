#include "pipeline/layer_cost.h"

namespace dsv3::pipeline {

namespace {

// Multi-head Latent Attention: q_a_proj/q_b_proj (or q_proj), kv_a_proj_with_mqa, kv_b_proj,
// o_proj and the two latent norms.
int64_t mla_params(const ModelConfig& c) {
  const int64_t h = c.hidden_size, nh = c.num_attention_heads;
  const int64_t q = c.q_lora_rank > 0 ? h * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * nh * c.qk_head_dim()
                                      : h * nh * c.qk_head_dim();
  const int64_t kv = h * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank +
                     c.kv_lora_rank * nh * (c.qk_nope_head_dim + c.v_head_dim);
  return q + kv + nh * c.v_head_dim * h;
}

// Scores and weighted values of causal attention: each token attends to (seq_len + 1) / 2
// positions on average.
double attention_flops_per_token(const ModelConfig& c, int64_t seq_len) {
  const double ctx = double(seq_len + 1) / 2;
  return 2.0 * double(c.num_attention_heads) * double(c.qk_head_dim() + c.v_head_dim) * ctx;
}

LayerCost decoder_layer(const ModelConfig& c, int64_t layer, int64_t seq_len) {
  const int64_t h = c.hidden_size;
  LayerCost l;
  l.moe = c.is_moe_layer(layer);
  const int64_t attn = mla_params(c) + 2 * h;  // + input/post-attention norms
  int64_t mlp_active = 0;
  if (l.moe) {
    const int64_t expert = 3 * h * c.moe_intermediate_size;  // gate_proj, up_proj, down_proj
    l.expert_params = c.n_routed_experts * expert;
    const int64_t shared = c.n_shared_experts * expert;
    // The gate, and the selection bias of auxiliary-loss-free balancing (V3's noaux_tc only).
    const int64_t router = c.n_routed_experts * h + (c.topk_method == TopkMethod::kNoauxTc ? c.n_routed_experts : 0);
    l.params = attn + router + shared + l.expert_params;
    mlp_active = router + shared + c.num_experts_per_tok * expert;
  } else {
    l.params = attn + 3 * h * c.intermediate_size;
    mlp_active = 3 * h * c.intermediate_size;
  }
  l.flops_per_token = 2.0 * double(attn + mlp_active) + attention_flops_per_token(c, seq_len);
  return l;
}

}  // namespace

ModelCost model_cost(const ModelConfig& c, int64_t seq_len) {
  ModelCost m;
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) m.layers.push_back(decoder_layer(c, i, seq_len));
  const int64_t h = c.hidden_size;
  m.embedding.params = c.vocab_size * h;  // a row lookup: no FLOPs
  m.head.params = h + (c.tie_word_embeddings ? 0 : c.vocab_size * h);
  m.head.flops_per_token = 2.0 * double(c.vocab_size * h);
  for (int64_t k = 0; k < c.num_nextn_predict_layers; ++k) {
    // enorm, hnorm, eh_proj (2h -> h), one decoder block, shared_head norm; its logits use the
    // shared head, so its FLOPs include one more head product.
    const LayerCost block = decoder_layer(c, c.num_hidden_layers + k, seq_len);
    m.mtp.params += 3 * h + 2 * h * h + block.params;
    m.mtp.expert_params += block.expert_params;
    m.mtp.flops_per_token += 2.0 * double(2 * h * h) + block.flops_per_token + m.head.flops_per_token;
    m.mtp.moe = m.mtp.moe || block.moe;
  }
  return m;
}

int64_t ModelCost::total_params() const {
  int64_t n = embedding.params + head.params + mtp.params;
  for (const LayerCost& l : layers) n += l.params;
  return n;
}

}  // namespace dsv3::pipeline
