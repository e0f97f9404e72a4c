#include "train/params.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "io/checkpoint.h"
#include "kernels/linear.h"

namespace dsv3 {

ParamLayout::ParamLayout(const ModelConfig& cfg) : ParamLayout(cfg, ExpertShare::all()) {}

ParamLayout::ParamLayout(const ModelConfig& cfg, ExpertShare experts, const StageFilter& stages) : cfg_(cfg) {
  const bool all = experts.count < 0;
  ModelWeights w = weights_skeleton(cfg);
  std::vector<ParamTensor> routed;  // a share's experts, placed after the replicated tensors
  int64_t index = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, TensorRole role) {
    ParamTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.size = 1;
    for (int64_t d : t.shape) t.size *= d;
    t.role = role;
    if (role == TensorRole::kBias) {
      t.offset = n_bias_;
      n_bias_ += t.size;
      biases_.push_back(std::move(t));
      return;
    }
    t.index = index++;
    t.first_chunk = n_chunks_;
    n_chunks_ += (t.size + kGradNormChunk - 1) / kGradNormChunk;
    t.expert = routed_expert_of(name);
    if (stages && !stages(t.name)) return;  // another pipeline stage's
    if (all || t.expert < 0) params_.push_back(std::move(t));
    else if (experts.has(t.expert)) routed.push_back(std::move(t));
  };
  for_each_tensor(cfg, w,
                  {[&](const std::string& n, Weight& m, TensorRole r) { add(n, {m.rows, m.cols}, r); },
                   [&](const std::string& n, Vec& v, TensorRole r) { add(n, {v.size}, r); }});
  for (ParamTensor& t : params_) {
    t.offset = n_params_;
    n_params_ += t.size;
  }
  n_replicated_ = n_params_;
  for (ParamTensor& t : routed) {
    t.offset = n_params_;
    n_params_ += t.size;
    params_.push_back(std::move(t));
  }
  for (size_t i = 0; i < params_.size(); ++i) index_[params_[i].name] = i;
  for (size_t i = 0; i < biases_.size(); ++i) index_[biases_[i].name] = params_.size() + i;
}

int64_t routed_expert_of(const std::string& name) {
  static const std::string key = ".mlp.experts.";
  const size_t at = name.find(key);
  if (at == std::string::npos) return -1;
  return std::stoll(name.substr(at + key.size()));
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
                     if (const ParamTensor* t = find(n)) m = f32_weight(params + t->offset, m.rows, m.cols);
                   },
                   [&](const std::string& n, Vec& v, TensorRole r) {
                     if (const ParamTensor* t = find(n)) v.data = (r == TensorRole::kBias ? biases : params) + t->offset;
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
  for (const ParamTensor& t : layout.params()) {
    float* p = params + t.offset;
    if (t.role == TensorRole::kNorm) {
      std::fill(p, p + t.size, 1.0f);
      continue;
    }
    // Keyed by the tensor's place in the whole model: a rank's share draws the same values.
    const uint64_t key = mix(seed ^ mix(uint64_t(t.index) + 1));
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
                     const ParamTensor* t = layout.find(n);
                     if (!t) return;  // another rank's expert or stage: its pages are never read
                     float* dst = params + t->offset;
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
