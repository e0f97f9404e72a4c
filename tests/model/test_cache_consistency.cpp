// Decoding through the latent cache equals a full causal forward at every step, also when several
// sequences of different lengths share one batched forward.
#include <gtest/gtest.h>

#include "core/error.h"
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
