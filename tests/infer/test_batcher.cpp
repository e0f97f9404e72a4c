// Continuous batching: sequences that join, leave or are cancelled between steps decode
// exactly as they would alone; chunked prefill equals a whole-prompt prefill; finish reasons,
// request validation and log-probabilities; steps in flight (in_flight > 1) give every
// sequence what one step at a time gives it.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "infer/batcher.h"
#include "infer/generator.h"
#include "test_util.h"

namespace dsv3 {
namespace {

struct Collected {
  std::vector<int32_t> tokens;
  std::vector<TokenEvent> events;
  FinishReason reason = FinishReason::kNone;
  SequenceStats stats;
};

SequenceRequest request(const std::vector<int32_t>& prompt, int64_t max_new, Collected* c) {
  SequenceRequest r;
  r.prompt = prompt;
  r.max_new_tokens = max_new;
  r.stop_at_eos = false;
  r.on_token = [c](const TokenEvent& e) { return c->tokens.push_back(e.token), c->events.push_back(e), true; };
  r.on_finish = [c](FinishReason why, const SequenceStats& s) { c->reason = why, c->stats = s; };
  return r;
}

std::vector<int32_t> alone(const Model& m, const std::vector<int32_t>& prompt, int64_t n) {
  GenerateOptions o;
  o.max_new_tokens = n;
  o.stop_at_eos = false;
  return generate(m, {prompt}, o)[0];
}

class BatcherTest : public ::testing::TestWithParam<int64_t> {  // the number of drafts
 protected:
  void SetUp() override { model_ = Model::load(test::model_path("v3-tiny")); }
  BatcherOptions options() const {
    BatcherOptions o;
    o.draft_tokens = GetParam();
    return o;
  }
  std::unique_ptr<Model> model_;
};

TEST_P(BatcherTest, SequencesJoiningBetweenStepsDecodeAsAlone) {
  Batcher b(*model_, options());
  Collected a, c, d;
  b.add(request({5, 9, 13}, 20, &a));
  for (int i = 0; i < 3; ++i) b.step();
  b.add(request({7, 8}, 12, &c));
  b.step();
  b.add(request({100, 200, 300, 400, 1, 2}, 16, &d));
  while (!b.empty()) EXPECT_LE(b.step().sequences, 3);
  EXPECT_EQ(a.tokens, alone(*model_, {5, 9, 13}, 20));
  EXPECT_EQ(c.tokens, alone(*model_, {7, 8}, 12));
  EXPECT_EQ(d.tokens, alone(*model_, {100, 200, 300, 400, 1, 2}, 16));
  EXPECT_EQ(a.reason, FinishReason::kLength);
  EXPECT_EQ(a.stats.generated_tokens, 20);
  EXPECT_EQ(a.stats.prompt_tokens, 3);
}

TEST_P(BatcherTest, ChunkedPrefillEqualsWholePrompt) {
  BatcherOptions o = options();
  o.max_prefill_tokens = 3;
  Batcher b(*model_, o);
  Collected a, c;
  const std::vector<int32_t> long_prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  b.add(request(long_prompt, 8, &a));
  b.add(request({42, 43, 44, 45}, 8, &c));
  int64_t steps = 0, max_prefill = 0;
  while (!b.empty()) max_prefill = std::max(max_prefill, b.step().prefill_rows), ++steps;
  EXPECT_LE(max_prefill, 3);
  EXPECT_EQ(a.tokens, alone(*model_, long_prompt, 8));
  EXPECT_EQ(c.tokens, alone(*model_, {42, 43, 44, 45}, 8));
}

TEST_P(BatcherTest, CancelFinishesAndFreesOnlyThatSequence) {
  Batcher b(*model_, options());
  Collected a, c;
  const int64_t ida = b.add(request({5, 9, 13}, 30, &a));
  b.add(request({7, 8}, 10, &c));
  b.step();
  b.step();
  ASSERT_NE(b.find(ida), nullptr);
  b.cancel(ida);
  EXPECT_EQ(a.reason, FinishReason::kCancelled);
  EXPECT_EQ(b.find(ida), nullptr);
  EXPECT_EQ(b.size(), 1);
  const size_t got = a.tokens.size();
  while (!b.empty()) b.step();
  EXPECT_EQ(a.tokens.size(), got);
  EXPECT_EQ(c.tokens, alone(*model_, {7, 8}, 10));
  b.cancel(12345);  // unknown ids are ignored
}

TEST_P(BatcherTest, TheSinkAndEosStopASequence) {
  Batcher b(*model_, options());
  Collected a, e;
  SequenceRequest r = request({5, 9, 13}, 30, &a);
  r.on_token = [&a](const TokenEvent& ev) { return a.tokens.push_back(ev.token), a.tokens.size() < 3; };
  b.add(std::move(r));
  SequenceRequest re = request({5, 9, 13}, 30, &e);
  re.stop_at_eos = true;
  re.sampling.logit_bias = {{1, 1000.0f}};  // token 1 is the fixture's EOS
  b.add(std::move(re));
  while (!b.empty()) b.step();
  EXPECT_EQ(a.tokens.size(), 3u);
  EXPECT_EQ(a.reason, FinishReason::kStop);
  EXPECT_EQ(e.tokens, std::vector<int32_t>{1});
  EXPECT_EQ(e.reason, FinishReason::kStop);
}

TEST_P(BatcherTest, RejectsInvalidRequests) {
  BatcherOptions o = options();
  o.context_length = 16;
  Batcher b(*model_, o);
  Collected c;
  EXPECT_THROW(b.add(request({}, 4, &c)), Error);
  EXPECT_THROW(b.add(request({5, 512}, 4, &c)), Error);  // vocab 512
  EXPECT_THROW(b.add(request({5, -1}, 4, &c)), Error);
  EXPECT_THROW(b.add(request({5}, 0, &c)), Error);
  EXPECT_THROW(b.add(request({1, 2, 3, 4, 5, 6}, 11, &c)), Error);
  o.in_flight = 0;
  EXPECT_THROW(Batcher(*model_, o), Error);
  b.add(request({1, 2, 3, 4, 5, 6}, 10, &c));  // exactly the context
  while (!b.empty()) b.step();
  EXPECT_EQ(c.tokens.size(), 10u);
  EXPECT_EQ(b.context_length(), 16);
}

TEST_P(BatcherTest, LogprobsAreTheModelsLogSoftmax) {
  Batcher b(*model_, options());
  Collected c;
  SequenceRequest r = request({5, 9, 13}, 6, &c);
  r.logprobs = 4;
  b.add(std::move(r));
  while (!b.empty()) b.step();
  ASSERT_EQ(c.events.size(), 6u);
  // The first token's logprobs from the prompt's logits computed directly.
  const int64_t H = model_->config().hidden_size, V = model_->config().vocab_size;
  TokenBatch tb;
  for (int32_t i = 0; i < 3; ++i) tb.add(std::vector<int32_t>{5, 9, 13}[size_t(i)], i, 0);
  SequenceCache cache = model_->new_cache();
  SequenceCache* cs[] = {&cache};
  std::vector<float> h(size_t(3 * H)), l(static_cast<size_t>(V));
  model_->forward(tb, cs, h.data());
  model_->logits(l.data(), h.data() + 2 * H, 1);
  const TokenLogprobs want = token_logprobs(l.data(), V, c.tokens[0], 4);
  EXPECT_NEAR(c.events[0].logprobs.logprob, want.logprob, 1e-5);
  for (const auto& e : c.events) {
    ASSERT_EQ(e.logprobs.top.size(), 4u);
    EXPECT_EQ(e.logprobs.top[0].first, e.token);  // greedy picks the most likely
    EXPECT_FLOAT_EQ(e.logprobs.top[0].second, e.logprobs.logprob);
    EXPECT_LT(e.logprobs.logprob, 0.0f);
    for (size_t i = 1; i < 4; ++i) EXPECT_LE(e.logprobs.top[i].second, e.logprobs.top[i - 1].second);
  }
}

// Five sequences (greedy and sampled, each with its own seed; one joins later) with G steps in
// flight: the outputs of G = 1.
std::vector<std::vector<int32_t>> in_flight_outputs(const Model& m, BatcherOptions o, int64_t G,
                                                    std::vector<int64_t>* sequences_per_step) {
  o.in_flight = G;
  Batcher b(m, o);
  std::vector<Collected> c(5);
  const std::vector<std::vector<int32_t>> prompts = {{5, 9, 13}, {7, 8}, {100, 200, 300, 400, 1, 2}, {40, 41}, {3}};
  const auto add = [&](size_t i) {
    SequenceRequest r = request(prompts[i], 6 + int64_t(i) * 2, &c[i]);
    if (i % 2) r.sampling.temperature = 0.8, r.sampling.seed = 11 + i;
    b.add(std::move(r));
  };
  for (size_t i = 0; i < 4; ++i) add(i);
  for (int i = 0; !b.empty(); ++i) {
    if (i == 3) add(4);
    sequences_per_step->push_back(b.step().sequences);
  }
  std::vector<std::vector<int32_t>> out;
  for (const Collected& x : c) {
    EXPECT_EQ(x.reason, FinishReason::kLength);
    out.push_back(x.tokens);
  }
  return out;
}

TEST_P(BatcherTest, StepsInFlightGiveEverySequenceItsOwnTokens) {
  std::vector<int64_t> per_step1, per_step2, per_step3;
  const auto one = in_flight_outputs(*model_, options(), 1, &per_step1);
  EXPECT_EQ(in_flight_outputs(*model_, options(), 2, &per_step2), one);
  EXPECT_EQ(in_flight_outputs(*model_, options(), 3, &per_step3), one);
  EXPECT_EQ(per_step1[0], 4);  // one step at a time: all the sequences
  // Two steps in flight: the first step's finish leaves the other half running.
  EXPECT_EQ(per_step2[0], 2);
  EXPECT_EQ(per_step2[1], 2);
  EXPECT_EQ(per_step3[0], 2);  // 4 sequences over 3 steps: 2, 1, 1
  EXPECT_EQ(per_step3[1], 1);
}

TEST_P(BatcherTest, ASequenceCancelledInFlightFinishesWithItsStep) {
  BatcherOptions o = options();
  o.in_flight = 2;
  Batcher b(*model_, o);
  Collected a, c, d;
  b.add(request({5, 9, 13}, 10, &a));
  const int64_t idc = b.add(request({7, 8}, 10, &c));
  b.add(request({40, 41}, 10, &d));
  b.step();  // starts {a, c} and {d} (3 sequences over 2 steps); finishes {a, c}
  b.step();  // starts {a, c}; finishes {d}: c is in flight now
  const size_t got = c.tokens.size();
  b.cancel(idc);
  EXPECT_EQ(c.reason, FinishReason::kNone);  // its rows are running
  ASSERT_NE(b.find(idc), nullptr);
  EXPECT_EQ(b.step().finished, 1);  // starts {d}, finishes {a, c}: c leaves without a token
  EXPECT_EQ(c.reason, FinishReason::kCancelled);
  EXPECT_EQ(c.tokens.size(), got);
  EXPECT_EQ(b.find(idc), nullptr);
  while (!b.empty()) b.step();
  EXPECT_EQ(a.tokens, alone(*model_, {5, 9, 13}, 10));
  EXPECT_EQ(d.tokens, alone(*model_, {40, 41}, 10));
}

INSTANTIATE_TEST_SUITE_P(Drafts, BatcherTest, ::testing::Values(0, 2),
                         [](const auto& i) { return i.param ? "mtp" + std::to_string(i.param) : std::string("plain"); });

}  // namespace
}  // namespace dsv3
