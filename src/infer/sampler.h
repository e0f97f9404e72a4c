// Choosing the next token from logits. A row of logits goes through three stages:
//   1. penalties and bias (apply_penalties): repetition (CTRL-style, over prompt and output),
//      frequency and presence (OpenAI-style, over output tokens only), then logit_bias;
//   2. the sampling distribution (sampling_distribution): softmax(logits / temperature), then
//      top-k, top-p and min-p truncation, renormalised; greedy (temperature 0) is the one-hot
//      distribution on the argmax;
//   3. a draw from it with the sequence's seeded generator, so a run can be repeated exactly.
// Log-probabilities reported to clients are log_softmax of the stage-1 logits (before
// temperature and truncation), which is what the model itself assigns.
#pragma once
#include <cstdint>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dsv3 {

struct SamplingParams {
  float temperature = 0.0f;         // 0: greedy
  int64_t top_k = 0;                // 0: off
  float top_p = 1.0f;               // 1: off
  float min_p = 0.0f;               // 0: off; keep tokens with p >= min_p · max p
  float repetition_penalty = 1.0f;  // 1: off; > 1 discourages any token already seen
  float frequency_penalty = 0.0f;   // subtracted once per earlier occurrence in the output
  float presence_penalty = 0.0f;    // subtracted once if the token occurs in the output
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the logits of these ids
  uint64_t seed = 0;

  bool greedy() const { return temperature <= 0.0f; }
  bool has_penalties() const {
    return repetition_penalty != 1.0f || frequency_penalty != 0.0f || presence_penalty != 0.0f || !logit_bias.empty();
  }
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform() { return double(gen_() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1), 53 bits

 private:
  std::mt19937_64 gen_;
};

// Counts of the tokens a sequence has seen, for the penalties. Drafts are added and removed
// again while speculative decoding evaluates them.
class TokenHistory {
 public:
  void add_prompt(const std::vector<int32_t>& tokens);
  void add(int32_t token);     // an output token
  void remove(int32_t token);  // undoes add
  const std::unordered_map<int32_t, int32_t>& output_counts() const { return output_; }
  const std::unordered_map<int32_t, int32_t>& all_counts() const { return all_; }

 private:
  std::unordered_map<int32_t, int32_t> output_, all_;
};

int32_t argmax(const float* logits, int64_t n);  // ties go to the lowest id

// Stage 1, in place on logits [n].
void apply_penalties(float* logits, int64_t n, const SamplingParams& p, const TokenHistory& h);

// Stage 2: probs [n] sums to 1.
void sampling_distribution(std::vector<double>& probs, const float* logits, int64_t n, const SamplingParams& p);

// Stage 3: a draw from probs (which need not be normalised).
int32_t draw(const std::vector<double>& probs, Rng& rng);

// Stages 2 and 3 on raw logits (no penalties): greedy when temperature == 0.
int32_t sample_token(const float* logits, int64_t n, const SamplingParams& p, Rng& rng);

// log_softmax(logits)[token] and the `top` most likely ids with their log-probabilities.
struct TokenLogprobs {
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;
};
TokenLogprobs token_logprobs(const float* logits, int64_t n, int32_t token, int64_t top);

}  // namespace dsv3
