#include "infer/sampler.h"

#include <cmath>
#include <vector>

namespace dsv3 {

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

int32_t sample_token(const float* logits, int64_t n, const SamplingParams& p, Rng& rng) {
  if (p.temperature <= 0.0f) return argmax(logits, n);
  const float mx = logits[argmax(logits, n)];
  std::vector<double> w(static_cast<size_t>(n));
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (w[size_t(i)] = std::exp(double(logits[i] - mx) / p.temperature));
  double u = rng.uniform() * sum;
  for (int64_t i = 0; i < n; ++i) {
    u -= w[size_t(i)];
    if (u < 0) return int32_t(i);
  }
  return int32_t(n - 1);
}

}  // namespace dsv3
