// Finite-difference checks of every gradient on random tiny configurations the fixtures do not
// cover: plain q_proj, softmax routing over several groups without normalization, two shared
// experts, MTP depth 2; and sigmoid routing with a non-zero bias, q LoRA, a loss mask (SFT)
// and gradient accumulation over two micro-batches.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "io/json_file.h"
#include "train/model_train.h"

namespace dsv3 {
namespace {

ModelConfig tiny_config(bool v2_style) {
  json j = {{"vocab_size", 40},          {"hidden_size", 16},       {"intermediate_size", 24},
            {"moe_intermediate_size", 8}, {"num_hidden_layers", 2},  {"num_attention_heads", 2},
            {"kv_lora_rank", 8},          {"qk_nope_head_dim", 8},   {"qk_rope_head_dim", 4},
            {"v_head_dim", 6},            {"n_routed_experts", 8},   {"num_experts_per_tok", 2},
            {"first_k_dense_replace", 1}, {"max_position_embeddings", 64},
            {"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 16},
                              {"mscale", 1.0}, {"mscale_all_dim", 1.0}}}};
  if (v2_style) {
    j.update({{"q_lora_rank", nullptr}, {"n_shared_experts", 2}, {"n_group", 4}, {"topk_group", 2},
              {"topk_method", "group_limited_greedy"}, {"scoring_func", "softmax"}, {"norm_topk_prob", false},
              {"routed_scaling_factor", 1.5}, {"num_nextn_predict_layers", 2}});
  } else {
    j.update({{"q_lora_rank", 12}, {"n_shared_experts", 1}, {"n_group", 2}, {"topk_group", 1},
              {"topk_method", "noaux_tc"}, {"scoring_func", "sigmoid"}, {"norm_topk_prob", true},
              {"routed_scaling_factor", 2.5}, {"num_nextn_predict_layers", 1}});
  }
  return parse_config(j, "tiny");
}

struct Problem {
  ModelConfig cfg;
  ParamLayout layout;
  std::vector<float> params, biases;
  std::vector<TokenRows> batches;  // micro-batches of one step
  Objective obj{0.3, 0.05};
  explicit Problem(bool v2) : cfg(tiny_config(v2)), layout(cfg) {
    params.resize(size_t(layout.n_params()));
    biases.resize(size_t(layout.n_bias()));
    init_params(layout, v2 ? 7 : 11, 0.2, params.data(), biases.data());
    std::mt19937 rng(v2 ? 3 : 5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (float& b : biases) b = 0.05f * nd(rng);
    for (const ParamTensor& t : layout.params())  // norms away from 1, so their gradients matter
      if (t.role == TensorRole::kNorm)
        for (int64_t i = 0; i < t.size; ++i) params[size_t(t.offset + i)] = 1.0f + 0.3f * nd(rng);
    for (int mb = 0; mb < (v2 ? 1 : 2); ++mb) {
      TokenRows b;
      b.B = 2;
      b.T = 7;
      for (int64_t i = 0; i < b.B * b.T; ++i) b.tokens.push_back(int32_t(rng() % 40));
      if (!v2)
        for (int64_t i = 0; i < b.B * b.T; ++i) b.mask.push_back(rng() % 10 < 7);
      batches.push_back(b);
    }
  }
  // The step's loss, and its gradient when grads is given.
  double loss(const std::vector<float>& p, std::vector<float>* grads, std::vector<std::vector<int64_t>>* load = nullptr) {
    const ModelWeights w = layout.bind(p.data(), biases.data());
    LossNorm norm;
    for (const auto& b : batches) norm.add(b, cfg.num_nextn_predict_layers);
    TrainModel m(cfg, Precision::kF32);
    if (grads) grads->assign(p.size(), 0.0f);
    const GradSink sink{p.data(), grads ? grads->data() : nullptr};
    StepLosses all;
    for (const auto& b : batches) all.add(m.run(b, w, obj, norm, grads ? &sink : nullptr));
    if (load) *load = all.load;
    return all.total;
  }
};

// For each tensor: the directional derivative along its gradient and along a random direction,
// by central differences, against the analytic gradient.
void check_gradients(Problem& pb) {
  std::vector<float> g;
  std::vector<std::vector<int64_t>> load0;
  const double l0 = pb.loss(pb.params, &g, &load0);
  EXPECT_TRUE(std::isfinite(l0));
  std::mt19937 rng(42);
  std::normal_distribution<double> nd(0.0, 1.0);
  int checked = 0, zero = 0, experts = 0;
  for (const ParamTensor& t : pb.layout.params()) {
    double gn = 0;
    for (int64_t i = 0; i < t.size; ++i) gn += double(g[size_t(t.offset + i)]) * g[size_t(t.offset + i)];
    gn = std::sqrt(gn);
    // Only an expert no token was routed to has no gradient.
    if (gn == 0.0) {
      EXPECT_NE(t.name.find(".experts."), std::string::npos) << t.name << " has no gradient";
    }
    zero += gn == 0.0;
    experts += t.name.find(".experts.") != std::string::npos;
    for (int dir = 0; dir < 2; ++dir) {
      if (dir == 0 && gn == 0.0) {  // no gradient direction: only the random one
        ++checked;
        continue;
      }
      std::vector<double> d(size_t(t.size));
      double dn = 0;
      for (int64_t i = 0; i < t.size; ++i) {
        d[size_t(i)] = dir == 0 ? g[size_t(t.offset + i)] : nd(rng);
        dn += d[size_t(i)] * d[size_t(i)];
      }
      double analytic = 0;
      for (int64_t i = 0; i < t.size; ++i) analytic += (d[size_t(i)] /= std::sqrt(dn)) * g[size_t(t.offset + i)];
      // The largest step that changes no routing decision (the loss is only piecewise smooth).
      double fd = NAN;
      for (double eps : {4e-3, 1e-3, 3e-4, 1e-4}) {
        std::vector<float> plus = pb.params, minus = pb.params;
        for (int64_t i = 0; i < t.size; ++i) {
          plus[size_t(t.offset + i)] += float(eps * d[size_t(i)]);
          minus[size_t(t.offset + i)] -= float(eps * d[size_t(i)]);
        }
        std::vector<std::vector<int64_t>> lp, lm;
        const double fp = pb.loss(plus, nullptr, &lp), fm = pb.loss(minus, nullptr, &lm);
        fd = (fp - fm) / (2 * eps);
        if (lp == load0 && lm == load0) break;
      }
      EXPECT_NEAR(fd, analytic, 0.02 * gn + 2e-4) << t.name << (dir == 0 ? " along its gradient" : " random direction");
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * int(pb.layout.params().size()));
  EXPECT_LT(zero * 3, experts);  // most experts did get tokens
}

TEST(TrainFiniteDifference, SoftmaxGroupsNoQLoraMtpDepth2) {
  Problem pb(true);
  ASSERT_EQ(pb.cfg.q_lora_rank, 0);
  ASSERT_EQ(pb.layout.n_bias(), 0);
  check_gradients(pb);
}

TEST(TrainFiniteDifference, SigmoidBiasQLoraMaskedAccumulated) {
  Problem pb(false);
  ASSERT_GT(pb.layout.n_bias(), 0);
  check_gradients(pb);
}

// Gradient accumulation: two micro-batches equal one batch holding both.
TEST(TrainFiniteDifference, AccumulationEqualsOneBatch) {
  Problem pb(false);
  std::vector<float> g_acc;
  const double l_acc = pb.loss(pb.params, &g_acc);
  TokenRows all = pb.batches[0];
  all.B += pb.batches[1].B;
  all.tokens.insert(all.tokens.end(), pb.batches[1].tokens.begin(), pb.batches[1].tokens.end());
  all.mask.insert(all.mask.end(), pb.batches[1].mask.begin(), pb.batches[1].mask.end());
  pb.batches = {all};
  std::vector<float> g_one;
  const double l_one = pb.loss(pb.params, &g_one);
  EXPECT_NEAR(l_acc, l_one, 1e-5 * l_one);
  double num = 0, den = 0;
  for (size_t i = 0; i < g_one.size(); ++i) {
    num += (double(g_acc[i]) - g_one[i]) * (double(g_acc[i]) - g_one[i]);
    den += double(g_one[i]) * g_one[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-5);
}

}  // namespace
}  // namespace dsv3
