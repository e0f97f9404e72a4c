// Perplexity of a text, one implementation for `dsv3 perplexity` and `dsv3 eval --kind ppl`,
// measured as llama-perplexity does: the tokens are cut into chunks of `ctx`, each run from an
// empty cache, and the second half of each chunk is scored (every scored token has at least
// ctx/2 tokens of context). For long contexts the same chunks also give the loss by position:
// every position of every chunk, grouped into position ranges.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/report.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace dsv3::eval {

// The text's tokens; with `lines`, each non-blank line encoded alone and followed by EOS (as
// dsv3 train --doc-split line packs them).
std::vector<int32_t> text_tokens(const Tokenizer& tok, const std::string& text, bool lines, const ModelConfig& cfg);

// Log-probabilities [ctx, V] of one chunk run from an empty cache (row p: the distribution of
// the token at p + 1).
std::vector<float> chunk_logprobs(const Model& m, const int32_t* tokens, int64_t ctx);

// The rows a chunk of `ctx` tokens scores: [ctx/2, ctx - 1), each predicting the next token.
inline int64_t first_scored_row(int64_t ctx) { return ctx / 2; }

struct PositionBucket {
  int64_t from = 0, to = 0;  // positions of the predicted tokens, [from, to)
  int64_t n = 0;
  double nll_sum = 0;
};

struct PerplexityResult {
  std::vector<double> nll;               // per scored token (second halves of the chunks)
  std::vector<PositionBucket> by_position;  // every predicted position of every chunk
  int64_t chunks = 0, ctx = 0;
};

// tokens.size() >= ctx; uses floor(size / ctx) chunks, at most max_chunks (< 0: all).
PerplexityResult perplexity(const Model& m, const std::vector<int32_t>& tokens, int64_t ctx, int64_t max_chunks = -1);

// perplexity = exp(mean NLL), its interval exp(normal interval of the mean NLL), n the scored
// tokens; detail "by_position": [{from, to, n, perplexity}] and its markdown table.
Report perplexity_report(const std::string& task, const PerplexityResult& r);

// Position ranges for `ctx`: [1, 2), [2, 4), [4, 8), ... doubling up to ctx (predicted
// positions start at 1: position 0 is never predicted).
std::vector<PositionBucket> position_buckets(int64_t ctx);

}  // namespace dsv3::eval
