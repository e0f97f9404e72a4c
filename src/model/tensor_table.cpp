#include "model/tensor_table.h"

#include "core/error.h"

namespace dsv3 {

int64_t TensorSpec::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

Weight shaped(int64_t rows, int64_t cols) {
  Weight w;
  w.rows = rows;
  w.cols = cols;
  return w;
}

MlpWeights mlp_skeleton(int64_t hidden, int64_t inter) {
  return {shaped(inter, hidden), shaped(inter, hidden), shaped(hidden, inter)};
}

LayerWeights layer_skeleton(const ModelConfig& c, int64_t i) {
  const int64_t H = c.num_attention_heads, D = c.hidden_size;
  LayerWeights l;
  l.input_layernorm.size = l.post_attention_layernorm.size = D;
  MlaWeights& a = l.self_attn;
  if (c.q_lora_rank > 0) {
    a.q_a_proj = shaped(c.q_lora_rank, D);
    a.q_a_layernorm.size = c.q_lora_rank;
    a.q_b_proj = shaped(H * c.qk_head_dim(), c.q_lora_rank);
  } else {
    a.q_proj = shaped(H * c.qk_head_dim(), D);
  }
  a.kv_a_proj_with_mqa = shaped(c.kv_lora_rank + c.qk_rope_head_dim, D);
  a.kv_a_layernorm.size = c.kv_lora_rank;
  a.kv_b_proj = shaped(H * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
  a.o_proj = shaped(D, H * c.v_head_dim);
  l.is_moe = c.is_moe_layer(i);
  if (!l.is_moe) {
    l.mlp = mlp_skeleton(D, c.intermediate_size);
    return l;
  }
  l.moe.gate = shaped(c.n_routed_experts, D);
  if (c.topk_method == TopkMethod::kNoauxTc) l.moe.e_score_correction_bias.size = c.n_routed_experts;
  for (int64_t e = 0; e < c.n_routed_experts; ++e) l.moe.experts.push_back(mlp_skeleton(D, c.moe_intermediate_size));
  if (c.n_shared_experts > 0) l.moe.shared_experts = mlp_skeleton(D, c.n_shared_experts * c.moe_intermediate_size);
  return l;
}

// The walk over a ModelWeights' fields, for the mutable and the read-only visitor alike
// (Mlp, Layer and Weights are the structs or their const forms).
template <class Mlp, class Visitor>
void visit_mlp(const std::string& p, Mlp& m, const Visitor& v) {
  v.mat(p + "gate_proj.weight", m.gate_proj, TensorRole::kLinear);
  v.mat(p + "up_proj.weight", m.up_proj, TensorRole::kLinear);
  v.mat(p + "down_proj.weight", m.down_proj, TensorRole::kLinear);
}

template <class Layer, class Visitor>
void visit_layer(const ModelConfig& c, const std::string& p, Layer& l, const Visitor& v) {
  v.vec(p + "input_layernorm.weight", l.input_layernorm, TensorRole::kNorm);
  auto& a = l.self_attn;
  const std::string s = p + "self_attn.";
  if (c.q_lora_rank > 0) {
    v.mat(s + "q_a_proj.weight", a.q_a_proj, TensorRole::kLinear);
    v.vec(s + "q_a_layernorm.weight", a.q_a_layernorm, TensorRole::kNorm);
    v.mat(s + "q_b_proj.weight", a.q_b_proj, TensorRole::kLinear);
  } else {
    v.mat(s + "q_proj.weight", a.q_proj, TensorRole::kLinear);
  }
  v.mat(s + "kv_a_proj_with_mqa.weight", a.kv_a_proj_with_mqa, TensorRole::kLinear);
  v.vec(s + "kv_a_layernorm.weight", a.kv_a_layernorm, TensorRole::kNorm);
  v.mat(s + "kv_b_proj.weight", a.kv_b_proj, TensorRole::kLinear);
  v.mat(s + "o_proj.weight", a.o_proj, TensorRole::kLinear);
  v.vec(p + "post_attention_layernorm.weight", l.post_attention_layernorm, TensorRole::kNorm);
  if (!l.is_moe) {
    visit_mlp(p + "mlp.", l.mlp, v);
    return;
  }
  v.mat(p + "mlp.gate.weight", l.moe.gate, TensorRole::kHigh);
  if (l.moe.e_score_correction_bias.size > 0)
    v.vec(p + "mlp.gate.e_score_correction_bias", l.moe.e_score_correction_bias, TensorRole::kBias);
  for (size_t e = 0; e < l.moe.experts.size(); ++e) visit_mlp(cat(p, "mlp.experts.", e, "."), l.moe.experts[e], v);
  if (c.n_shared_experts > 0) visit_mlp(p + "mlp.shared_experts.", l.moe.shared_experts, v);
}

template <class Weights, class Visitor>
void visit_model(const ModelConfig& c, Weights& w, const Visitor& v) {
  v.mat("model.embed_tokens.weight", w.embed_tokens, TensorRole::kHigh);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) visit_layer(c, layer_prefix(i), w.layers[size_t(i)], v);
  v.vec("model.norm.weight", w.norm, TensorRole::kNorm);
  if (!c.tie_word_embeddings) v.mat("lm_head.weight", w.lm_head, TensorRole::kHigh);
  for (size_t k = 0; k < w.mtp.size(); ++k) {
    auto& m = w.mtp[k];
    const std::string p = layer_prefix(c.num_hidden_layers + int64_t(k));
    v.vec(p + "enorm.weight", m.enorm, TensorRole::kNorm);
    v.vec(p + "hnorm.weight", m.hnorm, TensorRole::kNorm);
    v.mat(p + "eh_proj.weight", m.eh_proj, TensorRole::kLinear);
    visit_layer(c, p, m.block, v);
    v.vec(p + "shared_head.norm.weight", m.shared_head_norm, TensorRole::kNorm);
  }
}

}  // namespace

ModelWeights weights_skeleton(const ModelConfig& c) {
  ModelWeights w;
  w.embed_tokens = shaped(c.vocab_size, c.hidden_size);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) w.layers.push_back(layer_skeleton(c, i));
  w.norm.size = c.hidden_size;
  w.lm_head = shaped(c.vocab_size, c.hidden_size);
  for (int64_t k = 0; k < c.num_nextn_predict_layers; ++k) {
    MtpWeights m;
    m.enorm.size = m.hnorm.size = m.shared_head_norm.size = c.hidden_size;
    m.eh_proj = shaped(c.hidden_size, 2 * c.hidden_size);
    m.block = layer_skeleton(c, c.num_hidden_layers + k);
    w.mtp.push_back(std::move(m));
  }
  return w;
}

void for_each_tensor(const ModelConfig& c, ModelWeights& w, const TensorVisitor& v) { visit_model(c, w, v); }

void for_each_tensor(const ModelConfig& c, const ModelWeights& w, const ConstTensorVisitor& v) { visit_model(c, w, v); }

TensorTable::TensorTable(const ModelConfig& c) {
  std::vector<TensorSpec>& out = tensors_;
  ModelWeights w = weights_skeleton(c);
  for_each_tensor(c, w,
                  {[&](const std::string& n, Weight& m, TensorRole r) { out.push_back({n, {m.rows, m.cols}, r}); },
                   [&](const std::string& n, Vec& v, TensorRole r) { out.push_back({n, {v.size}, r}); }});
  // The MTP modules' copies of the shared embedding and head, after each module's own tensors.
  for (int64_t k = c.num_nextn_predict_layers; k-- > 0;) {
    const std::string p = layer_prefix(c.num_hidden_layers + k);
    size_t end = out.size();
    while (end > 0 && out[end - 1].name.rfind(p, 0) != 0) --end;
    out.insert(out.begin() + std::ptrdiff_t(end),
               {{p + "embed_tokens.weight", {c.vocab_size, c.hidden_size}, TensorRole::kMtpCopy},
                {p + "shared_head.head.weight", {c.vocab_size, c.hidden_size}, TensorRole::kMtpCopy}});
  }
  for (size_t i = 0; i < out.size(); ++i) index_.emplace(out[i].name, i);
}

const TensorSpec* TensorTable::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace dsv3
