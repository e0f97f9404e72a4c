// Decoding through the latent cache equals a full causal forward at every step, also when several
// sequences of different lengths share one batched forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "model/latent_cache.h"
#include "model/model.h"
#include "test_util.h"

namespace dsv3 {
namespace {

constexpr float kTol = 1e-4f;

// Logits of every position of `tokens` from one full forward (a fresh cache).
std::vector<float> full_forward(const Model& m, const std::vector<int32_t>& tokens) {
  const int64_t T = int64_t(tokens.size()), H = m.config().hidden_size, V = m.config().vocab_size;
  TokenBatch b;
  for (int64_t i = 0; i < T; ++i) b.add(tokens[size_t(i)], int32_t(i), 0);
  SequenceCache c = m.new_cache();
  SequenceCache* cs[] = {&c};
  std::vector<float> h(static_cast<size_t>(T * H)), l(static_cast<size_t>(T * V));
  m.forward(b, cs, h.data());
  m.logits(l.data(), h.data(), T);
  return l;
}

std::vector<int32_t> some_tokens(int64_t n, int64_t vocab, int64_t seed) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(int32_t((i * 7919 + seed * 104729 + 13) % vocab));
  return t;
}

class CacheConsistency : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { model_ = Model::load(test::model_path(GetParam())); }
  std::unique_ptr<Model> model_;
};

TEST_P(CacheConsistency, StepByStepDecodeEqualsFullForward) {
  const int64_t V = model_->config().vocab_size, H = model_->config().hidden_size;
  const auto tokens = some_tokens(30, V, 1);
  const auto full = full_forward(*model_, tokens);
  // Prefill a prefix of 5, then one token per forward.
  SequenceCache c = model_->new_cache();
  SequenceCache* cs[] = {&c};
  std::vector<float> h, l;
  int64_t done = 0;
  for (int64_t chunk : {5, 1, 1, 3, 1, 1, 1, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) {
    TokenBatch b;
    for (int64_t i = 0; i < chunk; ++i) b.add(tokens[size_t(done + i)], int32_t(done + i), 0);
    h.resize(static_cast<size_t>(chunk * H));
    l.resize(static_cast<size_t>(chunk * V));
    model_->forward(b, cs, h.data());
    model_->logits(l.data(), h.data(), chunk);
    EXPECT_LE(test::max_abs_diff(l.data(), full.data() + done * V, l.size()), kTol) << "at position " << done;
    done += chunk;
  }
  ASSERT_EQ(done, 30);
}

TEST_P(CacheConsistency, BatchOfUnequalPromptsEqualsEachAlone) {
  const int64_t V = model_->config().vocab_size, H = model_->config().hidden_size;
  const std::vector<std::vector<int32_t>> seqs = {some_tokens(19, V, 2), some_tokens(4, V, 3), some_tokens(11, V, 4)};
  std::vector<std::vector<float>> alone;
  for (const auto& s : seqs) alone.push_back(full_forward(*model_, s));

  std::vector<SequenceCache> caches(seqs.size(), model_->new_cache());
  std::vector<SequenceCache*> cs;
  for (auto& c : caches) cs.push_back(&c);
  // Step 0 prefills the first 3 tokens of each sequence together; later steps add one row per
  // unfinished sequence, all in one batch.
  std::vector<size_t> done(seqs.size(), 0);
  for (int step = 0;; ++step) {
    TokenBatch b;
    std::vector<std::pair<size_t, size_t>> rows;  // (sequence, position)
    for (size_t s = 0; s < seqs.size(); ++s) {
      const size_t take = std::min(seqs[s].size() - done[s], step == 0 ? size_t(3) : size_t(1));
      for (size_t i = 0; i < take; ++i) {
        b.add(seqs[s][done[s] + i], int32_t(done[s] + i), int32_t(s));
        rows.emplace_back(s, done[s] + i);
      }
      done[s] += take;
    }
    if (b.size() == 0) break;
    std::vector<float> h(static_cast<size_t>(b.size() * H)), l(static_cast<size_t>(b.size() * V));
    model_->forward(b, cs.data(), h.data());
    model_->logits(l.data(), h.data(), b.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto [s, p] = rows[r];
      EXPECT_LE(test::max_abs_diff(l.data() + r * size_t(V), alone[s].data() + p * size_t(V), size_t(V)), kTol)
          << "sequence " << s << " position " << p;
    }
  }
}

TEST_P(CacheConsistency, TruncateThenRewriteEqualsFreshRun) {
  // What speculative decoding does on a rejected draft: forget positions, then write others.
  const int64_t V = model_->config().vocab_size, H = model_->config().hidden_size;
  const auto a = some_tokens(12, V, 5);
  auto b = a;
  b[8] = (b[8] + 1) % int32_t(V);
  b[10] = (b[10] + 3) % int32_t(V);
  SequenceCache c = model_->new_cache();
  SequenceCache* cs[] = {&c};
  std::vector<float> h(static_cast<size_t>(12 * H)), l(static_cast<size_t>(4 * V));
  TokenBatch first;
  for (int i = 0; i < 12; ++i) first.add(a[size_t(i)], i, 0);
  model_->forward(first, cs, h.data());
  c.truncate(8);
  TokenBatch redo;
  for (int i = 8; i < 12; ++i) redo.add(b[size_t(i)], i, 0);
  model_->forward(redo, cs, h.data());
  model_->logits(l.data(), h.data(), 4);
  const auto full = full_forward(*model_, b);
  EXPECT_LE(test::max_abs_diff(l.data(), full.data() + 8 * V, l.size()), kTol);
}

TEST_P(CacheConsistency, RejectsOutOfVocabularyAndNonContiguousRows) {
  SequenceCache c = model_->new_cache();
  SequenceCache* cs[] = {&c};
  std::vector<float> h(static_cast<size_t>(2 * model_->config().hidden_size));
  TokenBatch bad_token;
  bad_token.add(int32_t(model_->config().vocab_size), 0, 0);
  EXPECT_THROW(model_->forward(bad_token, cs, h.data()), Error);
  TokenBatch gap;
  gap.add(1, 0, 0);
  gap.add(2, 2, 0);
  EXPECT_THROW(model_->forward(gap, cs, h.data()), Error);
}

// The FP8 cache's store/load round trip: k_R in BF16; every c_KV value within half an E4M3 step of its own binade
// (2^-4 relative) or, below the normal range, within the subnormal step 2^-9 · scale; an all-zero
// row loads as zeros; the largest |value| comes back to float rounding (it maps to 448). Pages across a page boundary and all layers.
TEST(LatentCacheFp8, StoreLoadRoundTripIsWithinE4m3Rounding) {
  const int64_t layers = 3, kv_dim = 40, pe_dim = 8, len = SequenceCache::kPageTokens + 5;
  SequenceCache c(layers, kv_dim, pe_dim, CacheType::FP8);
  EXPECT_EQ(SequenceCache::bytes_per_token(layers, kv_dim, pe_dim, CacheType::FP8), layers * (kv_dim + 2 * pe_dim + 4));
  c.ensure(len);
  std::vector<std::vector<float>> kv, pe;
  uint32_t seed = 1;
  auto next = [&] { return float(int32_t((seed = seed * 1664525u + 1013904223u) >> 8) - (1 << 23)) / float(1 << 23); };
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t p = 0; p < len; ++p) {
      std::vector<float> a(static_cast<size_t>(kv_dim)), b(static_cast<size_t>(pe_dim));
      const float mag = std::ldexp(1.0f, int(p % 9) - 4);  // rows of very different magnitudes
      for (auto& x : a) x = p == 3 ? 0.0f : mag * next() * (next() > 0.8f ? 30.0f : 1.0f);
      for (auto& x : b) x = 4.0f * mag * next();
      c.store(l, p, a.data(), b.data());
      kv.push_back(a), pe.push_back(b);
    }
  c.set_length(len);
  std::vector<float> a(static_cast<size_t>(kv_dim)), b(static_cast<size_t>(pe_dim));
  for (int64_t l = 0, i = 0; l < layers; ++l)
    for (int64_t p = 0; p < len; ++p, ++i) {
      c.load(l, p, a.data(), b.data());
      for (int64_t j = 0; j < pe_dim; ++j) ASSERT_EQ(b[size_t(j)], bf16_to_f32(f32_to_bf16(pe[size_t(i)][size_t(j)])));
      for (const auto& [got, want] : {std::pair{&a, &kv[size_t(i)]}}) {
        float amax = 0.0f;
        for (float x : *want) amax = std::max(amax, std::fabs(x));
        const float sub_step = amax / kFp8E4M3Max * std::ldexp(1.0f, -9);
        for (size_t j = 0; j < want->size(); ++j) {
          const float w = (*want)[j];
          ASSERT_LE(std::fabs((*got)[j] - w), std::max(std::fabs(w) * 0.0625f, sub_step))
              << "layer " << l << " pos " << p << " value " << j;
          if (std::fabs(w) == amax) {
            ASSERT_NEAR((*got)[j], w, 1e-6f * amax) << "a row's largest value maps to 448";
          }
        }
      }
    }
}

// Attention reading the FP8 pages in place equals float32 attention over the loaded values
// (what the codes and scales stand for); run under each DSV3_ISA like the other kernel tests.
TEST(LatentCacheFp8, AttentionInPlaceEqualsAttentionOverLoadedValues) {
  const int64_t layers = 2, r = 48, dr = 16, nh = 5, len = 3 * SequenceCache::kPageTokens + 7;
  SequenceCache c(layers, r, dr, CacheType::FP8);
  c.ensure(len);
  std::vector<float> kv(size_t(len * r)), pe(size_t(len * dr)), q(size_t(nh * (r + dr)));
  uint32_t seed = 7;
  auto next = [&] { return float(int32_t((seed = seed * 1664525u + 1013904223u) >> 8) - (1 << 23)) / float(1 << 23); };
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t p = 0; p < len; ++p) {
      for (int64_t i = 0; i < r; ++i) kv[size_t(p * r + i)] = next() * float(1 + p % 3);
      for (int64_t i = 0; i < dr; ++i) pe[size_t(p * dr + i)] = next() * 2.0f;
      c.store(l, p, kv.data() + p * r, pe.data() + p * dr);
    }
  for (auto& x : q) x = next();
  c.set_length(len);
  for (int64_t p = 0; p < len; ++p) c.load(1, p, kv.data() + p * r, pe.data() + p * dr);
  std::vector<float> o8(size_t(nh * r)), o32(size_t(nh * r));
  latent_attention(o32.data(), r, q.data(), r + dr, q.data() + r, r + dr, nh, r, dr,
                   {DType::F32, kv.data(), r, pe.data(), dr, len}, 0.4f);
  latent_attention(o8.data(), r, q.data(), r + dr, q.data() + r, r + dr, nh, r, dr, c.rows(1, len), 0.4f);
  EXPECT_LE(test::max_abs_diff(o8.data(), o32.data(), o8.size()), 2e-5f);
}

// Pipeline micro-batches (generate --pp --micro-batches): one stage holding every layer, which
// runs a batch as groups of whole sequences, gives the whole batch's states.
class WholeModelStage final : public StageLink {
 public:
  WholeModelStage(int64_t layers, int64_t micro_batches) : layers_(layers), micro_batches_(micro_batches) {}
  int64_t first() const override { return 0; }
  int64_t end() const override { return layers_; }
  int64_t micro_batches() const override { return micro_batches_; }
  void receive(float*, int64_t) const override { FAIL() << "a single stage receives nothing"; }
  void send(std::vector<float>) const override { FAIL() << "a single stage sends nothing"; }
  void sent() const override {}
  void share_final(float*, int64_t) const override {}

 private:
  int64_t layers_, micro_batches_;
};

TEST_P(CacheConsistency, MicroBatchedStageEqualsWholeBatch) {
  const int64_t V = model_->config().vocab_size, H = model_->config().hidden_size;
  TokenBatch b;  // 4 sequences of 3, 1, 2 and 4 rows, rows of sequences 1 and 2 interleaved
  for (const auto& [seq, pos] : std::vector<std::pair<int, int>>{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {2, 0}, {1, 1}, {2, 1},
                                                                  {3, 0}, {3, 1}, {3, 2}, {3, 3}})
    b.add(some_tokens(4, V, seq)[size_t(pos)], pos, seq);
  auto run = [&](const StageLink* stage) {
    std::vector<SequenceCache> caches(4, model_->new_cache());
    std::vector<SequenceCache*> cs;
    for (auto& c : caches) cs.push_back(&c);
    std::vector<float> h(static_cast<size_t>(b.size() * H));
    model_->set_stage(stage);
    model_->forward(b, cs.data(), h.data());
    model_->set_stage(nullptr);
    return h;
  };
  const auto whole = run(nullptr);
  const WholeModelStage one(model_->config().num_hidden_layers, 1);
  EXPECT_EQ(run(&one), whole);
  // A smaller batch may take other row tiles in the kernels (as a different set of sequences in
  // one step does): equal up to float rounding.
  for (int64_t M : {2, 9}) {
    const WholeModelStage stage(model_->config().num_hidden_layers, M);
    EXPECT_LE(test::max_abs_diff(run(&stage).data(), whole.data(), whole.size()), kTol) << M << " micro-batches";
  }
  // The groups: whole sequences (slots) in order, rows in batch order.
  EXPECT_EQ(micro_batch_rows(b, 2), (std::vector<std::vector<int64_t>>{{0, 1, 2, 3, 5}, {4, 6, 7, 8, 9, 10}}));
  EXPECT_EQ(micro_batch_rows(b, 9).size(), 4u);
  EXPECT_TRUE(micro_batch_rows(TokenBatch{}, 2).empty());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CacheConsistency, ::testing::Values("v3-tiny", "v3-tiny-fp8", "v2-lite-tiny"),
                         [](const auto& p) { return std::string(p.param == "v3-tiny" ? "v3" : p.param == "v3-tiny-fp8" ? "v3_fp8" : "v2_lite"); });

}  // namespace
}  // namespace dsv3
