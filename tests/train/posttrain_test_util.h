// Shared by the post-training tests: a tiny dense model (no MoE layer, no MTP module, so the loss
// is smooth in every weight and central differences are exact to O(eps²)), a batch, and a
// directional finite-difference check of a head objective's gradient through the whole model.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "io/json_file.h"
#include "train/model_train.h"
#include "train/params.h"

namespace dsv3::test {

inline ModelConfig dense_tiny_config() {
  json j = {{"vocab_size", 24},          {"hidden_size", 16},       {"intermediate_size", 24},
            {"moe_intermediate_size", 8}, {"num_hidden_layers", 2},  {"num_attention_heads", 2},
            {"kv_lora_rank", 8},          {"qk_nope_head_dim", 8},   {"qk_rope_head_dim", 4},
            {"v_head_dim", 6},            {"n_routed_experts", 4},   {"num_experts_per_tok", 2},
            {"first_k_dense_replace", 2}, {"max_position_embeddings", 64}, {"q_lora_rank", 12},
            {"n_shared_experts", 1},      {"n_group", 1},            {"topk_group", 1},
            {"num_nextn_predict_layers", 0}};
  return parse_config(j, "dense-tiny");
}

struct DenseProblem {
  ModelConfig cfg = dense_tiny_config();
  ParamLayout layout{cfg};
  std::vector<float> params, biases;
  TokenRows batch;
  explicit DenseProblem(uint32_t seed) {
    params.resize(size_t(layout.n_params()));
    biases.resize(size_t(layout.n_bias()));
    init_params(layout, seed, 0.3, params.data(), biases.data());
    std::mt19937 rng(seed);
    batch.B = 3;
    batch.T = 6;
    for (int64_t i = 0; i < batch.B * batch.T; ++i) batch.tokens.push_back(int32_t(rng() % 24));
    for (int64_t i = 0; i < batch.B * batch.T; ++i) batch.mask.push_back(i % batch.T >= 2);  // a 2-token "prompt"
  }
  // L_main of the head objective `head` (made fresh for each call), and its gradient when g is given.
  double loss(const std::vector<float>& p, HeadObjective& head, std::vector<float>* g) const {
    const ModelWeights w = layout.bind(p.data(), biases.data());
    LossNorm norm;
    norm.add(batch, 0);
    TrainModel m(cfg, Precision::kF32);
    if (g) g->assign(p.size(), 0.0f);
    const GradSink sink{p.data(), g ? g->data() : nullptr};
    return m.run(batch, w, {0.0, 0.0, &head}, norm, g ? &sink : nullptr).main;
  }
};

// For every tensor: the derivative along its gradient and along a random direction, by central
// differences of the float32 forward, against the analytic gradient.
inline void check_head_gradient(const DenseProblem& pb, const std::function<std::unique_ptr<HeadObjective>()>& make) {
  std::vector<float> g;
  const double l0 = pb.loss(pb.params, *make(), &g);
  ASSERT_TRUE(std::isfinite(l0));
  std::mt19937 rng(7);
  std::normal_distribution<double> nd(0.0, 1.0);
  int nonzero = 0;
  for (const ParamTensor& t : pb.layout.params()) {
    double gn = 0;
    for (int64_t i = 0; i < t.size; ++i) gn += double(g[size_t(t.offset + i)]) * g[size_t(t.offset + i)];
    gn = std::sqrt(gn);
    nonzero += gn > 0;
    for (int dir = 0; dir < 2; ++dir) {
      if (dir == 0 && gn == 0) continue;
      std::vector<double> d(size_t(t.size));
      double dn = 0, analytic = 0;
      for (int64_t i = 0; i < t.size; ++i) {
        d[size_t(i)] = dir == 0 ? g[size_t(t.offset + i)] : nd(rng);
        dn += d[size_t(i)] * d[size_t(i)];
      }
      for (int64_t i = 0; i < t.size; ++i) {
        d[size_t(i)] /= std::sqrt(dn);
        analytic += d[size_t(i)] * g[size_t(t.offset + i)];
      }
      const double eps = 1e-3;
      std::vector<float> plus = pb.params, minus = pb.params;
      for (int64_t i = 0; i < t.size; ++i) {
        plus[size_t(t.offset + i)] += float(eps * d[size_t(i)]);
        minus[size_t(t.offset + i)] -= float(eps * d[size_t(i)]);
      }
      const double fd = (pb.loss(plus, *make(), nullptr) - pb.loss(minus, *make(), nullptr)) / (2 * eps);
      EXPECT_NEAR(fd, analytic, 0.02 * gn + 2e-5) << t.name << (dir == 0 ? " along its gradient" : " random direction");
    }
  }
  EXPECT_EQ(nonzero, int(pb.layout.params().size()));  // every tensor takes part
}

}  // namespace dsv3::test
