// Choosing the next token from logits: greedy (argmax) or sampling at a temperature, with a
// seeded generator so that a run can be repeated exactly.
#pragma once
#include <cstdint>
#include <random>

namespace dsv3 {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  uint64_t seed = 0;
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  double uniform() { return double(gen_() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1), 53 bits

 private:
  std::mt19937_64 gen_;
};

int32_t argmax(const float* logits, int64_t n);  // ties go to the lowest id

// Greedy when temperature == 0, else a draw from softmax(logits / temperature).
int32_t sample_token(const float* logits, int64_t n, const SamplingParams& p, Rng& rng);

}  // namespace dsv3
