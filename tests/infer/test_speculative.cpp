// MTP speculative decoding: greedy output identical to plain greedy (token for token), the
// sampled output distributed as the target model's (chi-square), and the MTP cache equal to
// one built from scratch after every step, rejections included.
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "infer/batcher.h"
#include "infer/generator.h"
#include "infer/speculative.h"
#include "stats_util.h"
#include "test_util.h"

namespace dsv3 {
namespace {

const std::vector<std::vector<int32_t>> kPrompts = {{5, 9, 13}, {7}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {300, 2}};

TEST(AcceptanceRule, ReproducesTheTargetDistribution) {
  const std::vector<double> p = {0.1, 0.3, 0.0, 0.25, 0.2, 0.15}, q = {0.3, 0.1, 0.2, 0.25, 0.0, 0.15};
  Rng rng(11);
  const int64_t n = 60000;
  std::vector<int64_t> counts(p.size(), 0), naive(p.size(), 0);
  int64_t accepted = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t d = draw(q, rng);
    ++naive[size_t(d)];
    const bool ok = accept_draft(p, q, d, rng);
    accepted += ok;
    ++counts[size_t(ok ? d : draw_residual(p, q, rng))];
  }
  int dof = 0;
  const double stat = test::chi_square(p, counts, n, &dof);
  EXPECT_LT(stat, test::chi_square_critical(dof));
  EXPECT_NEAR(double(accepted) / double(n), 0.1 + 0.1 + 0.0 + 0.25 + 0.0 + 0.15, 0.01);  // Σ min(p, q)
  // Always accepting the draft would sample q instead, which the test tells apart.
  const double naive_stat = test::chi_square(p, naive, n, &dof);
  EXPECT_GT(naive_stat, test::chi_square_critical(dof));
}

struct Case {
  std::string model;
  int64_t drafts;
};

class GreedySpeculative : public ::testing::TestWithParam<Case> {};

TEST_P(GreedySpeculative, EqualsPlainGreedyTokenForToken) {
  const auto model = Model::load(test::model_path(GetParam().model));
  for (bool eos : {false, true}) {
    for (float rep : {1.0f, 1.3f}) {
      GenerateOptions opt;
      opt.max_new_tokens = 24;
      opt.stop_at_eos = eos;
      opt.sampling.repetition_penalty = rep;
      opt.sampling.presence_penalty = rep > 1.0f ? 0.5f : 0.0f;
      const auto plain = generate(*model, kPrompts, opt);
      opt.draft_tokens = GetParam().drafts;
      GenerateStats st;
      const auto spec = generate(*model, kPrompts, opt, &st);
      EXPECT_EQ(spec, plain) << "eos " << eos << " repetition " << rep;
      EXPECT_GT(st.drafted, 0);
      // One prompt alone gives the same as in the batch.
      EXPECT_EQ(generate(*model, {kPrompts[2]}, opt)[0], plain[2]);
    }
  }
}

TEST_P(GreedySpeculative, AcceptsEveryDraftWhenBothHeadsAgree) {
  // A large logit bias makes token 42 the argmax of both the main model and the MTP head.
  const auto model = Model::load(test::model_path(GetParam().model));
  GenerateOptions opt;
  opt.max_new_tokens = 20;
  opt.stop_at_eos = false;
  opt.sampling.logit_bias = {{42, 1000.0f}};
  const auto plain = generate(*model, kPrompts, opt);
  opt.draft_tokens = GetParam().drafts;
  GenerateStats st;
  EXPECT_EQ(generate(*model, kPrompts, opt, &st), plain);
  EXPECT_EQ(plain[0], std::vector<int32_t>(20, 42));
  EXPECT_GT(st.drafted, 0);
  EXPECT_EQ(st.accepted, st.drafted);
  EXPECT_GT(st.tokens_per_step(), 1.5);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GreedySpeculative,
                         ::testing::Values(Case{"v3-tiny", 1}, Case{"v3-tiny", 2}, Case{"v3-tiny", 4},
                                           Case{"v3-tiny-fp8", 1}, Case{"v3-tiny-fp8", 3}),
                         [](const auto& i) {
                           return test::test_name(i.param.model + "_draft" + std::to_string(i.param.drafts));
                         });

TEST(Speculative, NeedsAnMtpModule) {
  const auto model = Model::load(test::model_path("v2-lite-tiny"));
  BatcherOptions o;
  o.draft_tokens = 1;
  EXPECT_THROW(Batcher(*model, o), Error);
}

// The target distribution of the token after `prefix`, as plain sampling would draw it.
std::vector<double> target(const Model& m, const std::vector<int32_t>& prefix, const SamplingParams& sp) {
  const int64_t H = m.config().hidden_size, V = m.config().vocab_size, T = int64_t(prefix.size());
  TokenBatch b;
  for (int64_t i = 0; i < T; ++i) b.add(prefix[size_t(i)], int32_t(i), 0);
  SequenceCache c = m.new_cache();
  SequenceCache* cs[] = {&c};
  std::vector<float> h(size_t(T * H)), l(static_cast<size_t>(V));
  m.forward(b, cs, h.data());
  m.logits(l.data(), h.data() + (T - 1) * H, 1);
  apply_penalties(l.data(), V, sp, TokenHistory());  // the bias (the tests use no penalties)
  std::vector<double> p;
  sampling_distribution(p, l.data(), V, sp);
  return p;
}

// All outcomes of `len` tokens after `prefix` with their probability under plain sampling.
void enumerate(const Model& m, std::vector<int32_t> prefix, int64_t len, double prob, const SamplingParams& sp,
               std::map<std::vector<int32_t>, double>& out, size_t prompt_len) {
  if (len == 0) {
    out[std::vector<int32_t>(prefix.begin() + int64_t(prompt_len), prefix.end())] = prob;
    return;
  }
  const auto p = target(m, prefix, sp);
  for (int32_t t = 0; t < int32_t(p.size()); ++t) {
    if (p[size_t(t)] == 0) continue;
    prefix.push_back(t);
    enumerate(m, prefix, len - 1, prob * p[size_t(t)], sp, out, prompt_len);
    prefix.pop_back();
  }
}

TEST(SpeculativeSampling, OutputIsDistributedAsTheTargetModel) {
  // 4 tokens after a prompt with 2 drafts per step: token 1 comes from the prefill, the rest
  // through draft verification (chained drafts included). A bias on three tokens and top-3
  // keep 81 outcomes, and make the MTP head's q overlap the target's p without equalling it,
  // so drafts are both accepted and rejected.
  const auto model = Model::load(test::model_path("v3-tiny"));
  const std::vector<int32_t> prompt = {5, 9, 13, 17};
  SamplingParams sp;
  sp.temperature = 1.0f;
  sp.top_k = 3;
  sp.logit_bias = {{10, 30.0f}, {11, 30.0f}, {12, 30.0f}};
  BatcherOptions bo;
  bo.draft_tokens = 2;
  Batcher batcher(*model, bo);
  const int64_t n = 2000, len = 4;
  std::vector<std::vector<int32_t>> outs(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    SequenceRequest r;
    r.prompt = prompt;
    r.max_new_tokens = len;
    r.stop_at_eos = false;
    r.sampling = sp;
    r.sampling.seed = uint64_t(1000 + i);
    r.on_token = [&outs, i](const TokenEvent& e) { return outs[size_t(i)].push_back(e.token), true; };
    batcher.add(std::move(r));
  }
  int64_t drafted = 0, accepted = 0;
  while (!batcher.empty()) {
    const StepStats s = batcher.step();
    drafted += s.drafted;
    accepted += s.accepted;
  }
  EXPECT_GT(accepted, drafted / 5);
  EXPECT_LT(accepted, drafted * 4 / 5);

  std::map<std::vector<int32_t>, double> want;
  enumerate(*model, prompt, len, 1.0, sp, want, prompt.size());
  ASSERT_EQ(want.size(), 81u);
  std::map<std::vector<int32_t>, int64_t> counts;
  for (const auto& o : outs) ++counts[o];
  std::vector<double> probs;
  std::vector<int64_t> observed;
  for (const auto& [seq, p] : want) {
    probs.push_back(p);
    observed.push_back(counts[seq]);
    counts.erase(seq);
  }
  EXPECT_TRUE(counts.empty()) << "outcomes that plain sampling cannot produce";
  int dof = 0;
  const double stat = test::chi_square(probs, observed, n, &dof);
  EXPECT_GE(dof, 30);
  EXPECT_LT(stat, test::chi_square_critical(dof)) << "dof " << dof;
}

// MTP cache rows [0, fed) rebuilt from scratch: the main model over tokens[0, fed), then the
// MTP module over (h_j, t_{j+1}) for j < fed.
void expect_mtp_cache_consistent(const Model& m, const Sequence& s) {
  const int64_t H = m.config().hidden_size, L = s.fed;
  ASSERT_EQ(s.cache.length(), L);
  ASSERT_GE(s.mtp_cache.length(), L);
  TokenBatch b, mb;
  for (int64_t j = 0; j < L; ++j) b.add(s.tokens[size_t(j)], int32_t(j), 0), mb.add(s.tokens[size_t(j + 1)], int32_t(j), 0);
  SequenceCache c = m.new_cache(), mc = m.new_mtp_cache();
  SequenceCache* cs[] = {&c};
  SequenceCache* mcs[] = {&mc};
  std::vector<float> h(size_t(L * H)), mh(size_t(L * H));
  m.forward(b, cs, h.data());
  m.mtp_forward(0, h.data(), mb, mcs, mh.data());
  for (int64_t j = 0; j < L; ++j) {
    ASSERT_LE(test::max_abs_diff(mc.kv(0, j), s.mtp_cache.kv(0, j), size_t(mc.kv_dim())), 1e-5f) << "position " << j;
    ASSERT_LE(test::max_abs_diff(mc.pe(0, j), s.mtp_cache.pe(0, j), size_t(mc.pe_dim())), 1e-5f) << "position " << j;
  }
}

TEST(Speculative, MtpCacheStaysConsistentThroughRejections) {
  const auto model = Model::load(test::model_path("v3-tiny"));
  for (bool greedy : {true, false}) {
    BatcherOptions bo;
    bo.draft_tokens = 3;
    bo.max_prefill_tokens = 4;  // prompts arrive in chunks too
    Batcher batcher(*model, bo);
    std::vector<int64_t> ids;
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      SequenceRequest r;
      r.prompt = kPrompts[i];
      r.max_new_tokens = 20;
      r.stop_at_eos = false;
      if (!greedy) {
        r.sampling.temperature = 1.0f;
        r.sampling.top_k = 3;
        r.sampling.logit_bias = {{10, 30.0f}, {11, 30.0f}, {12, 30.0f}};
        r.sampling.seed = i;
      }
      ids.push_back(batcher.add(std::move(r)));
    }
    int64_t accepted = 0, drafted = 0;
    while (!batcher.empty()) {
      const StepStats st = batcher.step();
      accepted += st.accepted;
      drafted += st.drafted;
      for (int64_t id : ids)
        if (const Sequence* s = batcher.find(id); s && s->fed > 0) expect_mtp_cache_consistent(*model, *s);
    }
    EXPECT_LT(accepted, drafted) << "rejections happened";
    if (!greedy) {
      EXPECT_GT(accepted, 0) << "acceptances happened";
    }
  }
}

TEST(Speculative, SeededSamplingRepeats) {
  const auto model = Model::load(test::model_path("v3-tiny-fp8"));
  GenerateOptions opt;
  opt.max_new_tokens = 16;
  opt.sampling.temperature = 1.0f;
  opt.sampling.top_p = 0.9f;
  opt.sampling.seed = 5;
  opt.draft_tokens = 2;
  EXPECT_EQ(generate(*model, kPrompts, opt), generate(*model, kPrompts, opt));
  const auto a = generate(*model, kPrompts, opt);
  opt.sampling.seed = 6;
  EXPECT_NE(generate(*model, kPrompts, opt), a);
}

}  // namespace
}  // namespace dsv3
