// The log-likelihood scorer against a direct evaluation (one forward of the whole sequence,
// logits of every row, log-softmax by hand) on the V3 fixture, and its invariance to how
// sequences are packed into forwards (together, split across forwards, one at a time); passkey's
// teacher-forced key_tokens against greedy continuations.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "eval/passkey.h"
#include "eval/perplexity.h"
#include "eval/score.h"
#include "test_util.h"

namespace dsv3::eval {
namespace {

class Score : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = Model::load(test::model_path("v3-tiny")).release(); }
  static void TearDownTestSuite() { delete model_; }
  static Model* model_;
};
Model* Score::model_ = nullptr;

// log P(tokens[p+1] | tokens[..p]) for every p, from one forward and a plain log-softmax.
std::vector<double> direct_logprobs(const Model& m, const std::vector<int32_t>& tokens) {
  const int64_t n = int64_t(tokens.size()), H = m.config().hidden_size, V = m.config().vocab_size;
  TokenBatch b;
  for (int64_t i = 0; i < n; ++i) b.add(tokens[size_t(i)], int32_t(i), 0);
  SequenceCache cache = m.new_cache();
  SequenceCache* caches[] = {&cache};
  std::vector<float> hidden(size_t(n * H)), logits(size_t(n * V));
  m.forward(b, caches, hidden.data());
  m.logits(logits.data(), hidden.data(), n);
  std::vector<double> out;
  for (int64_t p = 0; p + 1 < n; ++p) {
    const float* row = logits.data() + p * V;
    double mx = row[0], sum = 0;
    for (int64_t v = 0; v < V; ++v) mx = std::max(mx, double(row[v]));
    for (int64_t v = 0; v < V; ++v) sum += std::exp(double(row[v]) - mx);
    out.push_back(double(row[tokens[size_t(p + 1)]]) - mx - std::log(sum));
  }
  return out;
}

const std::vector<std::vector<int32_t>> kSeqs = {
    {5, 9, 13, 200, 7, 7, 300, 1}, {42, 17}, {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9}};

TEST_F(Score, ContinuationsEqualTheDirectSum) {
  std::vector<ScoreRequest> reqs;
  for (const auto& s : kSeqs) reqs.push_back({s, 1, -1});  // continuation: tokens 2..
  const auto got = score_continuations(*model_, reqs);
  for (size_t i = 0; i < kSeqs.size(); ++i) {
    const std::vector<double> d = direct_logprobs(*model_, kSeqs[i]);
    double sum = 0;
    for (size_t p = 1; p < d.size(); ++p) sum += d[p];
    EXPECT_NEAR(got[i].logprob, sum, 1e-4 * (1 + std::fabs(sum))) << "sequence " << i;
  }
}

TEST_F(Score, PackingDoesNotChangeTheResult) {
  std::vector<ScoreRequest> reqs;
  for (const auto& s : kSeqs) reqs.push_back({s, 0, -1});
  const auto together = score_continuations(*model_, reqs, 512);
  const auto split = score_continuations(*model_, reqs, 5);  // sequences cut across forwards
  for (size_t i = 0; i < kSeqs.size(); ++i) {
    const auto alone = score_continuations(*model_, {reqs[i]}, 512);
    EXPECT_NEAR(together[i].logprob, alone[0].logprob, 1e-4 * (1 + std::fabs(alone[0].logprob))) << i;
    EXPECT_NEAR(split[i].logprob, alone[0].logprob, 1e-4 * (1 + std::fabs(alone[0].logprob))) << i;
    EXPECT_EQ(together[i].greedy, alone[0].greedy);
  }
}

TEST_F(Score, VisitsOnlyTheAskedRowsInOrder) {
  std::vector<std::pair<int64_t, int64_t>> seen;
  score_sequences(*model_, {{kSeqs[0], 2, 5}, {kSeqs[2], 13, -1}},
                  [&](int64_t r, int64_t pos, const float*) { seen.emplace_back(r, pos); }, 4);
  const std::vector<std::pair<int64_t, int64_t>> want = {{0, 2}, {0, 3}, {0, 4}, {1, 13}, {1, 14}};
  EXPECT_EQ(seen, want);
}

TEST_F(Score, GreedyMeansEveryTokenWasTheArgmax) {
  // Extend a prompt by its own greedy choices: the continuation is greedy by construction.
  std::vector<int32_t> s = {5, 9, 13};
  const int64_t V = model_->config().vocab_size;
  for (int k = 0; k < 4; ++k) {
    int32_t best = 0;
    score_sequences(*model_, {{s, int64_t(s.size()) - 1, -1}}, [&](int64_t, int64_t, const float* lp) {
      best = int32_t(std::max_element(lp, lp + V) - lp);
    });
    s.push_back(best);
  }
  EXPECT_TRUE(score_continuations(*model_, {{s, 2, -1}})[0].greedy);
  s.back() = (s.back() + 1) % int32_t(V);
  EXPECT_FALSE(score_continuations(*model_, {{s, 2, -1}})[0].greedy);
}

TEST_F(Score, ForcedKeyHitsCountTheAnswerTokensThatAreTheArgmax) {
  // passkey's key_tokens: an answer that is the prompt's own greedy continuation hits at every
  // token; changing its last token misses there only; a prompt with no room in the context is
  // left out of the counts.
  const std::vector<int32_t> prompt = {5, 9, 13};
  const int64_t V = model_->config().vocab_size, ctx = model_->config().max_position_embeddings;
  std::vector<int32_t> s = prompt;
  for (int k = 0; k < 4; ++k) {
    int32_t best = 0;
    score_sequences(*model_, {{s, int64_t(s.size()) - 1, -1}}, [&](int64_t, int64_t, const float* lp) {
      best = int32_t(std::max_element(lp, lp + V) - lp);
    });
    s.push_back(best);
  }
  const std::vector<int32_t> greedy(s.begin() + 3, s.end());
  std::vector<int32_t> wrong_last = greedy;
  wrong_last.back() = (wrong_last.back() + 1) % int32_t(V);
  const std::vector<int32_t> too_long(size_t(ctx), 5);
  std::vector<int64_t> tried;
  const std::vector<int64_t> hits = forced_key_hits(*model_, {prompt, prompt, too_long}, {greedy, wrong_last, greedy}, &tried);
  EXPECT_EQ(tried, (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(hits, (std::vector<int64_t>{2, 2, 2, 1}));
}

TEST_F(Score, ChunkLogprobsIsTheDirectLogSoftmax) {
  const std::vector<int32_t>& s = kSeqs[2];
  const std::vector<float> lp = chunk_logprobs(*model_, s.data(), int64_t(s.size()));
  const std::vector<double> d = direct_logprobs(*model_, s);
  const int64_t V = model_->config().vocab_size;
  for (size_t p = 0; p < d.size(); ++p) EXPECT_NEAR(lp[p * size_t(V) + size_t(s[p + 1])], d[p], 1e-4) << p;
}

TEST_F(Score, BadSequencesAreErrors) {
  EXPECT_THROW(score_continuations(*model_, {{{}, 0, -1}}), Error);
  EXPECT_THROW(score_continuations(*model_, {{{1, 2, 100000}, 0, -1}}), Error);
  EXPECT_THROW(score_sequences(*model_, {{{1, 2}, 2, 1}}, [](int64_t, int64_t, const float*) {}), Error);
}

}  // namespace
}  // namespace dsv3::eval
