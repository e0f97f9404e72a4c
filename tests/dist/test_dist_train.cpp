// The pieces of data-parallel training that one process can check: the pairwise gradient sum's
// grouping (what makes D ranks equal one process), the ZeRO-1 slices, AdamW on a slice, Zero1
// over a one-rank group equal to the plain optimizer step, and a rank's share of the experts
// (its tensors, their initial values, the gradient norm from shares). The multi-rank runs against one
// process are train_dist.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "dist/comm.h"
#include "io/json_file.h"
#include "model/config.h"
#include "train/grad_sum.h"
#include "train/params.h"
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

ModelConfig small() {
  return parse_config(json{{"vocab_size", 700}, {"hidden_size", 64}, {"intermediate_size", 96}, {"num_hidden_layers", 2},
                           {"num_attention_heads", 2}, {"kv_lora_rank", 16}, {"qk_nope_head_dim", 8},
                           {"qk_rope_head_dim", 4}, {"v_head_dim", 8}, {"n_routed_experts", 4},
                           {"num_experts_per_tok", 2}, {"moe_intermediate_size", 32}, {"first_k_dense_replace", 1},
                           {"topk_method", "noaux_tc"}, {"scoring_func", "sigmoid"}},
                      "small");
}

TEST(Zero1, SlicesAreWholeChunksCoveringThePart) {
  const ParamLayout layout(small());
  for (ParamRange part : {ParamRange{0, layout.n_params()}, ParamRange{0, 0}}) {
    for (int D : {1, 2, 4, 8}) {
      const auto s = zero_slices(layout, part, D);
      ASSERT_EQ(int(s.size()), D);
      EXPECT_EQ(s.front().lo, part.lo);
      EXPECT_EQ(s.back().hi, part.hi);
      const std::vector<float> ones(size_t(layout.n_params()), 1.0f);
      std::vector<double> partials(size_t(layout.n_chunks()), 0.0);
      for (int r = 0; r < D; ++r) {
        if (r > 0) {
          EXPECT_EQ(s[size_t(r)].lo, s[size_t(r - 1)].hi);
        }
        grad_square_chunks(layout, ones.data(), s[size_t(r)], partials);  // throws when a slice cuts a chunk
      }
      if (part.hi > 0) {
        EXPECT_EQ(norm_of_partials(partials), std::sqrt(double(layout.n_params())));
      }
    }
  }
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
  for (const ParamRange& r : zero_slices(layout, {0, n}, 4)) {
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
  Zero1 zero(*comm, layout, {0, n}, o);
  AdamW plain(layout, o);
  std::vector<float> pa = term(n, 3), pb = pa, ga = term(n, 4), gb = ga;
  zero.reduce_scatter(ga.data());
  const double na = clip_split_norm(layout, ga.data(), {zero.range()}, {comm.get()}, {}, 1.0);
  zero.step(pa.data(), ga.data(), 1e-3);
  const double nb = clip_split_norm(layout, gb.data(), {{0, n}}, {}, {}, 1.0);
  plain.step(pb.data(), gb.data(), 1e-3);
  EXPECT_EQ(na, nb);
  EXPECT_EQ(pa, pb);
}

// Under --dp D --ep E a rank holds the replicated tensors and E-th of the routed experts.
TEST(ExpertShare, SharesHoldTheReplicatedTensorsAndSplitTheExperts) {
  const ModelConfig cfg = small();
  const ParamLayout whole(cfg);
  std::vector<float> wp(size_t(whole.n_params())), wb(size_t(whole.n_bias()));
  init_params(whole, 9, 0.1, wp.data(), wb.data());
  for (int64_t E : {1, 2, 4}) {
    std::map<std::string, int> held;
    for (int64_t r = 0; r < E; ++r) {
      const int64_t per = cfg.n_routed_experts / E;
      const ParamLayout share(cfg, {r * per, per});
      std::vector<float> sp(size_t(share.n_params())), sb(size_t(share.n_bias()));
      init_params(share, 9, 0.1, sp.data(), sb.data());
      int64_t experts = 0;
      for (const ParamTensor& t : share.params()) {
        ++held[t.name];
        const ParamTensor& w = *whole.find(t.name);
        EXPECT_EQ(t.index, w.index);
        EXPECT_EQ(t.first_chunk, w.first_chunk);
        EXPECT_EQ(t.expert >= 0, t.offset >= share.n_replicated()) << t.name;  // experts after the rest
        if (t.expert >= 0) {
          experts += t.size;
          EXPECT_EQ(t.expert / per, r) << t.name;
        }
        // The same random values as the whole model (drawn by the tensor's place in it).
        EXPECT_TRUE(std::equal(sp.begin() + t.offset, sp.begin() + t.offset + t.size, wp.begin() + w.offset)) << t.name;
      }
      EXPECT_EQ(share.n_params() - share.n_replicated(), experts);
      // An expert it does not hold is unbound.
      const ModelWeights mw = share.bind(sp.data(), sb.data());
      EXPECT_NE(mw.layers[1].moe.experts[size_t(r * per)].gate_proj.data, nullptr);
      if (E > 1) {
        EXPECT_EQ(mw.layers[1].moe.experts[size_t((r + 1) % E * per)].gate_proj.data, nullptr);
      }
    }
    for (const ParamTensor& t : whole.params()) EXPECT_EQ(held[t.name], t.expert >= 0 ? 1 : E) << t.name;
  }
}

// The global gradient norm from shares and slices (what the ranks all-reduce) is the one
// process's, bit for bit: D = 4 ranks, E = 2 experts shares.
TEST(ExpertShare, NormFromSlicesOfSharesIsTheWholeNorm) {
  const ModelConfig cfg = small();
  const ParamLayout whole(cfg);
  const std::vector<float> g = term(whole.n_params(), 5);
  std::vector<float> gw = g;
  const double want = clip_split_norm(whole, gw.data(), {{0, whole.n_params()}}, {}, {}, 0.0);
  const int D = 4, E = 2;
  const int64_t per = cfg.n_routed_experts / E;
  std::vector<double> sum(size_t(whole.n_chunks()), 0.0);
  for (int d = 0; d < D; ++d) {
    const ParamLayout share(cfg, {(d % E) * per, per});
    std::vector<float> gs(size_t(share.n_params()));
    for (const ParamTensor& t : share.params())
      std::copy_n(g.begin() + whole.find(t.name)->offset, t.size, gs.begin() + t.offset);
    std::vector<double> partials(size_t(whole.n_chunks()), 0.0);
    grad_square_chunks(share, gs.data(), zero_slices(share, {0, share.n_replicated()}, D)[size_t(d)], partials);
    grad_square_chunks(share, gs.data(), zero_slices(share, {share.n_replicated(), share.n_params()}, D / E)[size_t(d / E)],
                       partials);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += partials[i];
  }
  EXPECT_EQ(norm_of_partials(sum), want);
}

}  // namespace
}  // namespace dsv3
