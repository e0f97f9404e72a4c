#include "train/params.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"
#include "kernels/linear.h"

namespace dsv3 {

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
  if (c.topk_method == "noaux_tc") l.moe.e_score_correction_bias.size = c.n_routed_experts;
  for (int64_t e = 0; e < c.n_routed_experts; ++e) l.moe.experts.push_back(mlp_skeleton(D, c.moe_intermediate_size));
  if (c.n_shared_experts > 0) l.moe.shared_experts = mlp_skeleton(D, c.n_shared_experts * c.moe_intermediate_size);
  return l;
}

void visit_mlp(const std::string& p, MlpWeights& m, const TensorVisitor& v) {
  v.mat(p + "gate_proj.weight", m.gate_proj, TensorRole::kLinear);
  v.mat(p + "up_proj.weight", m.up_proj, TensorRole::kLinear);
  v.mat(p + "down_proj.weight", m.down_proj, TensorRole::kLinear);
}

void visit_layer(const ModelConfig& c, const std::string& p, LayerWeights& l, const TensorVisitor& v) {
  v.vec(p + "input_layernorm.weight", l.input_layernorm, TensorRole::kNorm);
  MlaWeights& a = l.self_attn;
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

void for_each_tensor(const ModelConfig& c, ModelWeights& w, const TensorVisitor& v) {
  v.mat("model.embed_tokens.weight", w.embed_tokens, TensorRole::kHigh);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) visit_layer(c, layer_prefix(i), w.layers[size_t(i)], v);
  v.vec("model.norm.weight", w.norm, TensorRole::kNorm);
  if (!c.tie_word_embeddings) v.mat("lm_head.weight", w.lm_head, TensorRole::kHigh);
  for (size_t k = 0; k < w.mtp.size(); ++k) {
    MtpWeights& m = w.mtp[k];
    const std::string p = layer_prefix(c.num_hidden_layers + int64_t(k));
    v.vec(p + "enorm.weight", m.enorm, TensorRole::kNorm);
    v.vec(p + "hnorm.weight", m.hnorm, TensorRole::kNorm);
    v.mat(p + "eh_proj.weight", m.eh_proj, TensorRole::kLinear);
    visit_layer(c, p, m.block, v);
    v.vec(p + "shared_head.norm.weight", m.shared_head_norm, TensorRole::kNorm);
  }
}

ParamLayout::ParamLayout(const ModelConfig& cfg) : cfg_(cfg) {
  ModelWeights w = weights_skeleton(cfg);
  auto add = [&](const std::string& name, std::vector<int64_t> shape, TensorRole role) {
    ParamTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.size = 1;
    for (int64_t d : t.shape) t.size *= d;
    t.role = role;
    auto& list = role == TensorRole::kBias ? biases_ : params_;
    int64_t& total = role == TensorRole::kBias ? n_bias_ : n_params_;
    t.offset = total;
    total += t.size;
    list.push_back(std::move(t));
  };
  for_each_tensor(cfg, w,
                  {[&](const std::string& n, Weight& m, TensorRole r) { add(n, {m.rows, m.cols}, r); },
                   [&](const std::string& n, Vec& v, TensorRole r) { add(n, {v.size}, r); }});
  for (size_t i = 0; i < params_.size(); ++i) index_[params_[i].name] = i;
  for (size_t i = 0; i < biases_.size(); ++i) index_[biases_[i].name] = params_.size() + i;
}

const ParamTensor* ParamLayout::find(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  return it->second < params_.size() ? &params_[it->second] : &biases_[it->second - params_.size()];
}

ModelWeights ParamLayout::bind(const float* params, const float* biases) const {
  ModelWeights w = weights_skeleton(cfg_);
  for_each_tensor(cfg_, w,
                  {[&](const std::string& n, Weight& m, TensorRole) {
                     m = f32_weight(params + find(n)->offset, m.rows, m.cols);
                   },
                   [&](const std::string& n, Vec& v, TensorRole r) {
                     v.data = (r == TensorRole::kBias ? biases : params) + find(n)->offset;
                   }});
  if (cfg_.tie_word_embeddings) w.lm_head = w.embed_tokens;
  return w;
}

namespace {

// splitmix64: a counter-based source, so value i of a tensor does not depend on thread count.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double uniform01(uint64_t h) { return (double(h >> 11) + 0.5) * 0x1.0p-53; }

}  // namespace

void init_params(const ParamLayout& layout, uint64_t seed, double std, float* params, float* biases) {
  for (size_t ti = 0; ti < layout.params().size(); ++ti) {
    const ParamTensor& t = layout.params()[ti];
    float* p = params + t.offset;
    if (t.role == TensorRole::kNorm) {
      std::fill(p, p + t.size, 1.0f);
      continue;
    }
    const uint64_t key = mix(seed ^ mix(uint64_t(ti) + 1));
#pragma omp parallel for schedule(static) if (t.size > (1 << 16))
    for (int64_t i = 0; i < t.size; i += 2) {
      // Box-Muller: two normals from two uniforms.
      const double u1 = uniform01(mix(key + 2 * uint64_t(i))), u2 = uniform01(mix(key + 2 * uint64_t(i) + 1));
      const double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * M_PI * u2;
      p[i] = float(std * r * std::cos(a));
      if (i + 1 < t.size) p[i + 1] = float(std * r * std::sin(a));
    }
  }
  std::fill(biases, biases + layout.n_bias(), 0.0f);
}

void load_params(const ParamLayout& layout, const std::string& dir, float* params, float* biases) {
  const ModelConfig& cfg = layout.config();
  const Checkpoint ckpt(dir);
  BoundWeights bound = bind_weights(ckpt, cfg);  // validates presence, shapes and dtypes
  for_each_tensor(cfg, bound.weights,
                  {[&](const std::string& n, Weight& m, TensorRole) {
                     float* dst = params + layout.find(n)->offset;
                     for (int64_t r = 0; r < m.rows; ++r) weight_row_f32(dst + r * m.cols, m, r);
                   },
                   [&](const std::string& n, Vec& v, TensorRole r) {
                     const ParamTensor* t = layout.find(n);
                     if (!t) return;  // a bias the config does not route with
                     float* dst = (r == TensorRole::kBias ? biases : params) + t->offset;
                     if (v.data) std::copy(v.data, v.data + v.size, dst);
                     else std::fill(dst, dst + v.size, 0.0f);
                   }});
}

void round_params(const ParamLayout& layout, const float* params, float* out, Precision p) {
  if (out != params) std::copy(params, params + layout.n_params(), out);
  if (p == Precision::kF32) return;
  for (const ParamTensor& t : layout.params()) {
    float* w = out + t.offset;
    if (t.role == TensorRole::kLinear && p == Precision::kFP8) fp8_quantize_blocks(w, t.rows(), t.cols());
    else if (t.role == TensorRole::kLinear || t.role == TensorRole::kHigh) bf16_round_all(w, t.size);
  }
}

}  // namespace dsv3
