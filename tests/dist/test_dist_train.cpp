// The pieces of data-parallel training that one process can check: the pairwise gradient sum's
// grouping (what makes D ranks equal one process), the ZeRO-1 slices, AdamW on a slice, and
// Zero1 over a one-rank group equal to the plain optimizer step. The multi-rank runs against one
// process are train_dist.sh.
#include <gtest/gtest.h>

#include <cmath>

#include "dist/comm.h"
#include "model/config.h"
#include "train/grad_sum.h"
#include "train/zero.h"

namespace dsv3 {
namespace {

// Values whose float sums depend on the grouping.
std::vector<float> term(int64_t n, int i) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) v[size_t(j)] = float(std::pow(10.0, (i * 7 + j) % 9 - 4)) * (1 + 0.1f * float(i));
  return v;
}

std::vector<float> pairwise(const std::vector<std::vector<float>>& terms) {
  PairwiseSum s(int64_t(terms[0].size()));
  for (const auto& t : terms) s.add(t);
  return s.take();
}

TEST(PairwiseSum, BlocksOfPowersOfTwoAreSubtrees) {
  const int64_t n = 33;
  std::vector<std::vector<float>> all;
  for (int i = 0; i < 8; ++i) all.push_back(term(n, i));
  const std::vector<float> one = pairwise(all);
  // D ranks of 8/D consecutive terms each, partials summed with the same rule.
  for (int D : {2, 4, 8}) {
    std::vector<std::vector<float>> partial;
    for (int r = 0; r < D; ++r)
      partial.push_back(pairwise({all.begin() + r * 8 / D, all.begin() + (r + 1) * 8 / D}));
    EXPECT_EQ(pairwise(partial), one) << D;
  }
  // The grouping is not left to right (the check above could not fail otherwise).
  std::vector<float> seq(size_t(n), 0.0f);
  for (const auto& t : all)
    for (int64_t j = 0; j < n; ++j) seq[size_t(j)] += t[size_t(j)];
  EXPECT_NE(seq, one);
}

TEST(PairwiseSum, OddCountsAndEmpty) {
  PairwiseSum s(2);
  EXPECT_EQ(s.take(), std::vector<float>(2, 0.0f));
  for (float v : {1.0f, 2.0f, 4.0f}) s.add({v, -v});
  EXPECT_EQ(s.take(), (std::vector<float>{7.0f, -7.0f}));
}

TEST(Zero1, SlicesAreWholeChunksCoveringEverything) {
  for (int64_t n : {int64_t(1), kGradNormChunk * 3 + 5, kGradNormChunk * 8}) {
    for (int D : {1, 2, 4, 8}) {
      const auto s = zero_slices(n, D);
      ASSERT_EQ(int(s.size()), D);
      EXPECT_EQ(s.front().lo, 0);
      EXPECT_EQ(s.back().hi, n);
      for (int r = 0; r < D; ++r) {
        EXPECT_EQ(s[size_t(r)].lo % kGradNormChunk, 0);
        if (r > 0) {
          EXPECT_EQ(s[size_t(r)].lo, s[size_t(r - 1)].hi);
        }
      }
    }
  }
}

ModelConfig small() {
  return parse_config(json{{"vocab_size", 700}, {"hidden_size", 64}, {"intermediate_size", 96}, {"num_hidden_layers", 2},
                           {"num_attention_heads", 2}, {"kv_lora_rank", 16}, {"qk_nope_head_dim", 8},
                           {"qk_rope_head_dim", 4}, {"v_head_dim", 8}, {"n_routed_experts", 4},
                           {"num_experts_per_tok", 2}, {"moe_intermediate_size", 32}, {"first_k_dense_replace", 1},
                           {"topk_method", "noaux_tc"}, {"scoring_func", "sigmoid"}},
                      "small");
}

TEST(Zero1, AdamWOnSlicesEqualsTheWholeStep) {
  const ParamLayout layout(small());
  const int64_t n = layout.n_params();
  ASSERT_GT(n, 2 * kGradNormChunk);  // several slices
  std::vector<float> p0 = term(n, 1), g = term(n, 2);
  AdamWOptions o;
  AdamW whole(layout, o);
  std::vector<float> want = p0;
  whole.step(want.data(), g.data(), 1e-2);
  std::vector<float> got = p0;
  int64_t bytes = 0;
  for (const ParamRange& r : zero_slices(n, 4)) {
    AdamW part(layout, o, r);
    part.step(got.data(), g.data(), 1e-2);
    bytes += part.state_bytes();
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(bytes, whole.state_bytes());
}

TEST(Zero1, OneRankIsThePlainStep) {
  const ParamLayout layout(small());
  const int64_t n = layout.n_params();
  auto comm = dist::local_communicator();
  AdamWOptions o;
  Zero1 zero(*comm, layout, o);
  AdamW plain(layout, o);
  std::vector<float> pa = term(n, 3), pb = pa, ga = term(n, 4), gb = ga;
  zero.reduce_scatter(ga.data());
  const double na = zero.clip(ga.data(), 1.0);
  zero.step(pa.data(), ga.data(), 1e-3);
  const double nb = clip_grad_norm(gb.data(), n, 1.0);
  plain.step(pb.data(), gb.data(), 1e-3);
  EXPECT_EQ(na, nb);
  EXPECT_EQ(pa, pb);
}

}  // namespace
}  // namespace dsv3
