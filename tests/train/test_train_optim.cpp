// AdamW, clipping, the learning-rate schedule and the routing-bias update against hand
// computations.
#include <gtest/gtest.h>

#include <cmath>

#include "core/dtype.h"
#include "test_util.h"
#include "io/json_file.h"
#include "train/balance.h"
#include "train/optimizer.h"
#include "train/zero.h"

namespace dsv3 {
namespace {

ModelConfig small_moe() {
  return parse_config(json{{"vocab_size", 10}, {"hidden_size", 4}, {"intermediate_size", 8}, {"num_hidden_layers", 2},
                           {"num_attention_heads", 1}, {"kv_lora_rank", 4}, {"qk_nope_head_dim", 2},
                           {"qk_rope_head_dim", 2}, {"v_head_dim", 2}, {"n_routed_experts", 4},
                           {"num_experts_per_tok", 2}, {"moe_intermediate_size", 2}, {"first_k_dense_replace", 1},
                           {"topk_method", "noaux_tc"}, {"scoring_func", "sigmoid"}, {"num_nextn_predict_layers", 1}},
                      "small");
}

TEST(TrainOptim, AdamWMatchesTheFormulaAndSkipsDecayOnNorms) {
  const ModelConfig cfg = small_moe();
  const ParamLayout layout(cfg);
  for (bool bf16 : {false, true}) {
    AdamWOptions o;
    o.bf16_moments = bf16;
    AdamW adam(layout, o);
    std::vector<float> p(size_t(layout.n_params()), 0.5f), g(p.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = 0.01f * float(int(i % 7) - 3);
    const double lr = 1e-2;
    for (int step = 1; step <= 3; ++step) {
      std::vector<float> before = p;
      adam.step(p.data(), g.data(), lr);
      // Constant gradients: m̂ = g and v̂ = g² exactly (up to BF16 storage), so the step is sign(g)·lr.
      const ParamTensor* norm = layout.find("model.norm.weight");
      const ParamTensor* mat = layout.find("model.layers.0.mlp.up_proj.weight");
      for (const ParamTensor* t : {norm, mat}) {
        for (int64_t i = t->offset; i < t->offset + t->size; ++i) {
          const double gi = g[size_t(i)];
          double want = before[size_t(i)];
          if (gi != 0) want -= lr * gi / (std::fabs(gi) + 1e-8);
          if (t == mat) want -= lr * 0.1 * before[size_t(i)];
          EXPECT_NEAR(p[size_t(i)], want, bf16 ? 2e-4 : 1e-6) << t->name << " " << i;
        }
      }
    }
    EXPECT_EQ(adam.steps(), 3);
  }
}

// One process's clip: the trainer's clip_split_norm over the whole buffer, no groups.
TEST(TrainOptim, ClippingScalesToTheGlobalNorm) {
  const ParamLayout layout(small_moe());
  auto clip_grad_norm = [](const ParamLayout& l, float* g, double max_norm) {
    return clip_split_norm(l, g, {{0, l.n_params()}}, {}, {}, max_norm);
  };
  const size_t n = size_t(layout.n_params());
  std::vector<float> g(n, 0.0f);
  g[0] = 3.0f, g[n - 1] = 4.0f;  // the first and the last tensor
  EXPECT_DOUBLE_EQ(clip_grad_norm(layout, g.data(), 1.0), 5.0);
  EXPECT_NEAR(std::sqrt(g[0] * g[0] + g[n - 1] * g[n - 1]), 1.0, 1e-6);
  std::vector<float> small(n, 0.0f);
  small[1] = 0.3f, small[n - 2] = 0.4f;
  EXPECT_NEAR(clip_grad_norm(layout, small.data(), 1.0), 0.5, 1e-7);
  EXPECT_EQ(small[1], 0.3f);  // under the limit: untouched
}

TEST(TrainOptim, ScheduleWarmsUpHoldsDecaysAndHoldsTheTail) {
  LrSchedule s{1.0, 10, 20, 40, 0.1};
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(9), 1.0);
  EXPECT_DOUBLE_EQ(s.at(15), 1.0);
  EXPECT_DOUBLE_EQ(s.at(20), 1.0);
  EXPECT_NEAR(s.at(30), 0.55, 1e-12);  // halfway down the cosine
  EXPECT_DOUBLE_EQ(s.at(40), 0.1);
  EXPECT_DOUBLE_EQ(s.at(1000), 0.1);
  const Switched lambda{0.3, 0.1, 50};
  EXPECT_EQ(lambda.at(49), 0.3);
  EXPECT_EQ(lambda.at(50), 0.1);
}

TEST(TrainOptim, BiasMovesAgainstTheLoad) {
  const ModelConfig cfg = small_moe();
  const ParamLayout layout(cfg);
  ASSERT_EQ(layout.biases().size(), 2u);  // layer 1 and the MTP block
  std::vector<float> b(size_t(layout.n_bias()), 0.0f);
  const std::vector<std::vector<int64_t>> load = {{10, 2, 4, 4}, {5, 5, 5, 5}};
  update_routing_bias(layout, b.data(), load, 0.001);
  // mean 5: overloaded expert 0 goes down, under-loaded 1-3 go up; a balanced layer stays.
  EXPECT_FLOAT_EQ(b[0], -0.001f);
  EXPECT_FLOAT_EQ(b[1], 0.001f);
  EXPECT_FLOAT_EQ(b[3], 0.001f);
  for (int e = 4; e < 8; ++e) EXPECT_EQ(b[size_t(e)], 0.0f);
  update_routing_bias(layout, b.data(), load, 0.0);  // γ = 0: frozen
  EXPECT_FLOAT_EQ(b[0], -0.001f);
  const auto lm = load_max_over_mean(load);
  EXPECT_DOUBLE_EQ(lm[0], 2.0);
  EXPECT_DOUBLE_EQ(lm[1], 1.0);
}

}  // namespace
}  // namespace dsv3
