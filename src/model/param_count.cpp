#include "model/param_count.h"

#include <string>

#include "kernels/quant_weight.h"
#include "model/tensor_table.h"

namespace dsv3 {

namespace {

// The layer index of a "model.layers.<i>." tensor name.
int64_t layer_of(const std::string& name) { return std::stoll(name.substr(13)); }

struct Tally {
  int64_t params = 0, bytes = 0;
  void add(const Weight& w) {
    if (w.empty()) return;
    params += w.rows * w.cols;
    bytes += int64_t(w.bytes());
    if (w.scale_inv) bytes += ((w.rows + w.block - 1) / w.block) * w.scale_cols * 4;
    if (w.int4) bytes += w.rows * w.int4->groups() * 4;  // F16 (d, m) per group
  }
  void add(const Vec& v) {
    params += v.size;
    bytes += v.size * 4;
  }
  void add(const MlpWeights& m) {
    add(m.gate_proj);
    add(m.up_proj);
    add(m.down_proj);
  }
  void add(const MlaWeights& a) {
    for (const Weight* w : {&a.q_proj, &a.q_a_proj, &a.q_b_proj, &a.kv_a_proj_with_mqa, &a.kv_b_proj, &a.o_proj}) add(*w);
    add(a.q_a_layernorm);
    add(a.kv_a_layernorm);
  }
  // A layer as one token uses it: top_k of the routed experts (all of one size).
  void add(const LayerWeights& l, int64_t top_k) {
    add(l.input_layernorm);
    add(l.post_attention_layernorm);
    add(l.self_attn);
    if (!l.is_moe) return add(l.mlp);
    add(l.moe.gate);
    add(l.moe.e_score_correction_bias);
    add(l.moe.shared_experts);
    for (int64_t e = 0; e < top_k; ++e) add(l.moe.experts[size_t(e)]);
  }
};

}  // namespace

ParamCount count_params(const Model& m) {
  const ModelWeights& w = m.weights();
  const ModelConfig& c = m.config();
  ParamCount pc;
  // Totals: the tensor table's (the MTP modules' copies of the embedding and head are shared).
  const TensorTable table(c);
  for (const TensorSpec& t : table.tensors()) {
    if (t.role == TensorRole::kMtpCopy) continue;
    pc.total += t.size();
    if (t.name.rfind("model.layers.", 0) == 0 && layer_of(t.name) >= c.num_hidden_layers) pc.mtp += t.size();
  }
  // What one token touches: one embedding row, its attention, dense MLPs or router, shared and
  // top-k routed experts, norms and the head.
  Tally active;
  active.params += c.hidden_size;
  active.bytes += int64_t(w.embed_tokens.bytes() / size_t(c.vocab_size));
  for (const auto& l : w.layers) active.add(l, c.num_experts_per_tok);
  active.add(w.norm);
  active.add(w.lm_head);
  pc.active = active.params;
  pc.active_bytes = active.bytes;
  for (const auto& l : w.layers) (l.is_moe ? pc.moe_layers : pc.dense_layers)++;
  return pc;
}

}  // namespace dsv3
