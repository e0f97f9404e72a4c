// Log-likelihood scoring: the model's log-probability distribution after each prefix of a
// token sequence, for perplexity, multiple-choice scoring and the server's echoed prompts.
//
// Each sequence runs from an empty cache. Several sequences share one Model::forward (rows of
// different sequences in one TokenBatch, each with its own cache), and a long one is fed in
// pieces that continue its cache, so a forward never holds more than `max_rows` rows. Logits
// are computed only for the rows a caller asks for, a few rows at a time, so nothing of size
// [sequence length × vocabulary] is ever held.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"

namespace dsv3::eval {

// Rows [first, end) of `tokens` are visited: row p gives log P(· | tokens[0..p]), the
// distribution of the token at p + 1. end < 0 means tokens.size().
struct ScoreRequest {
  std::vector<int32_t> tokens;
  int64_t first = 0, end = -1;
};

// Called once per visited row, in order of (request, row), on the calling thread.
// logprobs [vocab]: log-softmax of the row's logits.
using RowVisitor = std::function<void(int64_t request, int64_t pos, const float* logprobs)>;

// Throws Error for an empty sequence or one longer than the model's context.
void score_sequences(const Model& model, const std::vector<ScoreRequest>& requests, const RowVisitor& visit,
                     int64_t max_rows = 512);

// log-softmax of each row of x [n, V], in place (double-precision sums).
void log_softmax_rows(float* x, int64_t n, int64_t V);

// Sum of log P(tokens[p+1] | tokens[0..p]) over p in [first, n-1), and whether every one of
// those tokens was the argmax (lm-evaluation-harness's is_greedy), for several sequences.
struct Continuation {
  double logprob = 0;
  bool greedy = true;
};
std::vector<Continuation> score_continuations(const Model& model, const std::vector<ScoreRequest>& requests,
                                              int64_t max_rows = 512);

}  // namespace dsv3::eval
