// The DeepSeekMoE router on hand-made affinities whose right answer can be read off.
#include <gtest/gtest.h>

#include "model/router.h"

namespace dsv3 {
namespace {

RouterParams v3_params() {
  RouterParams p;
  p.n_experts = 8;
  p.top_k = 2;
  p.n_group = 4;  // groups {0,1} {2,3} {4,5} {6,7}
  p.topk_group = 2;
  p.sigmoid = true;
  p.group_limited = true;
  p.group_top2_sum = true;
  p.norm_topk_prob = true;
  p.routed_scaling_factor = 2.5f;
  return p;
}

TEST(Router, GroupsScoredByTopTwoSumThenTopKWithinKeptGroups) {
  // Group sums: g0 = .9+.1 = 1.0, g1 = .5+.5 = 1.0 +, g2 = .95+0 = .95, g3 = .6+.45 = 1.05.
  const float s[8] = {0.9f, 0.1f, 0.5f, 0.51f, 0.95f, 0.0f, 0.6f, 0.45f};
  int32_t ids[2];
  float w[2];
  route_token(s, nullptr, v3_params(), ids, w);
  // Kept groups: g3 (1.05) and g1 (1.01). Expert 4 (.95, the best single) is excluded with g2.
  EXPECT_EQ(ids[0], 6);
  EXPECT_EQ(ids[1], 3);
  EXPECT_NEAR(w[0], 0.6f / (0.6f + 0.51f) * 2.5f, 1e-6);
  EXPECT_NEAR(w[1], 0.51f / (0.6f + 0.51f) * 2.5f, 1e-6);
}

TEST(Router, BiasChangesTheChoiceButNotTheWeights) {
  const float s[8] = {0.9f, 0.1f, 0.5f, 0.51f, 0.95f, 0.0f, 0.6f, 0.45f};
  const float bias[8] = {0, 0, 0, 0, 0, 0.3f, 0, 0};  // lifts group 2 (sum 1.25) and expert 5
  int32_t ids[2];
  float w[2];
  route_token(s, bias, v3_params(), ids, w);
  EXPECT_EQ(ids[0], 4);  // .95, group 2 now kept
  EXPECT_EQ(ids[1], 6);  // .6 beats expert 5's biased .3
  EXPECT_NEAR(w[0], 0.95f / (0.95f + 0.6f) * 2.5f, 1e-6);
}

TEST(Router, GroupMaxWithoutGroupLimitAndUnnormalized) {
  RouterParams p = v3_params();
  p.group_top2_sum = false;  // group_limited_greedy: a group scores its max
  p.norm_topk_prob = false;
  p.routed_scaling_factor = 1.0f;
  const float s[8] = {0.9f, 0.1f, 0.5f, 0.51f, 0.95f, 0.0f, 0.6f, 0.45f};
  int32_t ids[2];
  float w[2];
  route_token(s, nullptr, p, ids, w);  // groups by max: g2 .95, g0 .9
  EXPECT_EQ(ids[0], 4);
  EXPECT_EQ(ids[1], 0);
  EXPECT_FLOAT_EQ(w[0], 0.95f);
  EXPECT_FLOAT_EQ(w[1], 0.9f);
  p.group_limited = false;  // greedy: plain top-k
  route_token(s, nullptr, p, ids, w);
  EXPECT_EQ(ids[0], 4);
  EXPECT_EQ(ids[1], 0);
}

TEST(Router, ParamsFromConfigs) {
  ModelConfig c;
  c.n_routed_experts = 256;
  c.num_experts_per_tok = 8;
  c.n_group = 8;
  c.topk_group = 4;
  c.topk_method = TopkMethod::kNoauxTc;
  c.scoring_func = ScoringFunc::kSigmoid;
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5;
  RouterParams p = router_params(c);
  EXPECT_TRUE(p.sigmoid && p.group_limited && p.group_top2_sum && p.norm_topk_prob);
  c.topk_method = TopkMethod::kGreedy;
  c.scoring_func = ScoringFunc::kSoftmax;
  p = router_params(c);
  EXPECT_FALSE(p.sigmoid || p.group_limited);
}

}  // namespace
}  // namespace dsv3
