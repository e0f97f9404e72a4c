// The sampler's three stages: penalties and bias, the truncated distribution, the draw.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "infer/sampler.h"
#include "stats_util.h"

namespace dsv3 {
namespace {

std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, 3.0f, -1.0f};

std::vector<double> dist(const SamplingParams& p, const std::vector<float>& l = kLogits) {
  std::vector<double> probs;
  sampling_distribution(probs, l.data(), int64_t(l.size()), p);
  return probs;
}

std::vector<double> softmax_of(const std::vector<float>& l, double t, const std::vector<int>& keep) {
  std::vector<double> w(l.size(), 0.0);
  for (int i : keep) w[size_t(i)] = std::exp(double(l[size_t(i)]) / t);
  const double s = std::accumulate(w.begin(), w.end(), 0.0);
  for (double& x : w) x /= s;
  return w;
}

void expect_near(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-7) << "token " << i;
}

TEST(Sampler, ArgmaxTiesGoToTheLowestId) { EXPECT_EQ(argmax(kLogits.data(), 6), 1); }

TEST(Sampler, GreedyIsOneHotOnTheArgmax) {
  expect_near(dist({}), {0, 1, 0, 0, 0, 0});
}

TEST(Sampler, TemperatureScalesTheSoftmax) {
  SamplingParams p;
  p.temperature = 0.7f;
  expect_near(dist(p), softmax_of(kLogits, 0.7, {0, 1, 2, 3, 4, 5}));
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 3;
  expect_near(dist(p), softmax_of(kLogits, 1.0, {1, 2, 4}));
  p.top_k = 1;  // ties: the lower id
  expect_near(dist(p), {0, 1, 0, 0, 0, 0});
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  SamplingParams p;
  p.temperature = 1.0f;
  const auto full = softmax_of(kLogits, 1.0, {0, 1, 2, 3, 4, 5});
  p.top_p = float(full[1] + full[4] - 1e-6);  // the two tied leaders suffice
  expect_near(dist(p), softmax_of(kLogits, 1.0, {1, 4}));
  p.top_p = float(full[1] + full[4] + 1e-6);  // just over: the third joins
  expect_near(dist(p), softmax_of(kLogits, 1.0, {1, 2, 4}));
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheLeader) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = float(std::exp(-1.5));  // keeps logits >= 3 - 1.5
  expect_near(dist(p), softmax_of(kLogits, 1.0, {1, 2, 4}));
}

TEST(Sampler, PenaltiesAndBias) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  p.logit_bias = {{5, 10.0f}};
  TokenHistory h;
  h.add_prompt({0, 3});  // repetition only
  h.add(1);
  h.add(1);
  h.add(3);
  std::vector<float> l = kLogits;
  apply_penalties(l.data(), 6, p, h);
  EXPECT_FLOAT_EQ(l[0], 0.5f);                             // 1 / 2
  EXPECT_FLOAT_EQ(l[1], 3.0f / 2 - 2 * 0.5f - 0.25f);      // repetition, 2 occurrences, present
  EXPECT_FLOAT_EQ(l[2], 2.0f);                             // unseen
  EXPECT_FLOAT_EQ(l[3], 0.5f / 2 - 0.5f - 0.25f);          // prompt and output
  EXPECT_FLOAT_EQ(l[5], -1.0f + 10.0f);
  h.remove(1);
  h.remove(1);
  h.remove(3);
  EXPECT_EQ(h.output_counts().size(), 0u);
  EXPECT_EQ(h.all_counts().size(), 2u);
  l = kLogits;
  p.repetition_penalty = 1.0f;
  apply_penalties(l.data(), 6, p, h);
  EXPECT_FLOAT_EQ(l[1], 3.0f);
}

TEST(Sampler, DrawsFollowTheDistribution) {
  const std::vector<double> probs = {0.05, 0.4, 0.0, 0.15, 0.3, 0.1};
  Rng rng(7);
  const int64_t n = 40000;
  std::vector<int64_t> counts(probs.size(), 0);
  for (int64_t i = 0; i < n; ++i) ++counts[size_t(draw(probs, rng))];
  EXPECT_EQ(counts[2], 0);
  int dof = 0;
  const double stat = test::chi_square(probs, counts, n, &dof);
  EXPECT_LT(stat, test::chi_square_critical(dof));
  // The test can fail: the same counts are far from a different distribution.
  const double other = test::chi_square({0.1, 0.35, 0.0, 0.15, 0.3, 0.1}, counts, n, &dof);
  EXPECT_GT(other, test::chi_square_critical(dof));
}

TEST(Sampler, TheSameSeedRepeatsAndAnotherDiffers) {
  SamplingParams p;
  p.temperature = 1.0f;
  auto run = [&](uint64_t seed) {
    Rng rng(seed);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(sample_token(kLogits.data(), 6, p, rng));
    return out;
  };
  EXPECT_EQ(run(3), run(3));
  EXPECT_NE(run(3), run(4));
}

TEST(Sampler, LogprobsAreTheLogSoftmax) {
  const auto lp = token_logprobs(kLogits.data(), 6, 2, 3);
  const auto p = softmax_of(kLogits, 1.0, {0, 1, 2, 3, 4, 5});
  EXPECT_NEAR(lp.logprob, std::log(p[2]), 1e-6);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 1);
  EXPECT_EQ(lp.top[1].first, 4);
  EXPECT_EQ(lp.top[2].first, 2);
  EXPECT_NEAR(lp.top[0].second, std::log(p[1]), 1e-6);
  EXPECT_TRUE(token_logprobs(kLogits.data(), 6, 0, 0).top.empty());
}

}  // namespace
}  // namespace dsv3
