#include "infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dsv3 {

void TokenHistory::add_prompt(const std::vector<int32_t>& tokens) {
  for (int32_t t : tokens) ++all_[t];
}

void TokenHistory::add(int32_t token) {
  ++output_[token];
  ++all_[token];
}

void TokenHistory::remove(int32_t token) {
  for (auto* m : {&output_, &all_}) {
    auto it = m->find(token);
    if (it != m->end() && --it->second == 0) m->erase(it);
  }
}

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

void apply_penalties(float* logits, int64_t n, const SamplingParams& p, const TokenHistory& h) {
  if (p.repetition_penalty != 1.0f)
    for (const auto& [t, count] : h.all_counts()) {
      if (t < 0 || t >= n) continue;
      float& l = logits[t];
      l = l > 0 ? l / p.repetition_penalty : l * p.repetition_penalty;
    }
  if (p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f)
    for (const auto& [t, count] : h.output_counts())
      if (t >= 0 && t < n) logits[t] -= p.frequency_penalty * float(count) + p.presence_penalty;
  for (const auto& [t, bias] : p.logit_bias)
    if (t >= 0 && t < n) logits[t] += bias;
}

void sampling_distribution(std::vector<double>& probs, const float* logits, int64_t n, const SamplingParams& p) {
  probs.assign(size_t(n), 0.0);
  const int32_t best = argmax(logits, n);
  if (p.greedy()) {
    probs[size_t(best)] = 1.0;
    return;
  }
  // Weights relative to the most likely token (whose weight is 1), so min-p compares against 1.
  const double mx = logits[best];
  for (int64_t i = 0; i < n; ++i) probs[size_t(i)] = std::exp((double(logits[i]) - mx) / p.temperature);
  const bool top_k = p.top_k > 0 && p.top_k < n, top_p = p.top_p < 1.0f, min_p = p.min_p > 0.0f;
  if (top_k || top_p || min_p) {
    std::vector<int32_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    const auto heavier = [&](int32_t a, int32_t b) {
      return probs[size_t(a)] > probs[size_t(b)] || (probs[size_t(a)] == probs[size_t(b)] && a < b);
    };
    auto keep_end = idx.end();
    if (top_k) {
      keep_end = idx.begin() + p.top_k;
      std::nth_element(idx.begin(), keep_end, idx.end(), heavier);
    }
    if (top_p) {
      // The smallest set of most likely tokens whose mass reaches top_p of what is left.
      std::sort(idx.begin(), keep_end, heavier);
      double mass = 0.0, acc = 0.0;
      for (auto it = idx.begin(); it != keep_end; ++it) mass += probs[size_t(*it)];
      for (auto it = idx.begin(); it != keep_end; ++it)
        if ((acc += probs[size_t(*it)]) >= double(p.top_p) * mass) {
          keep_end = it + 1;
          break;
        }
    }
    if (min_p) keep_end = std::partition(idx.begin(), keep_end, [&](int32_t t) { return probs[size_t(t)] >= p.min_p; });
    for (auto it = keep_end; it != idx.end(); ++it) probs[size_t(*it)] = 0.0;
  }
  const double sum = std::accumulate(probs.begin(), probs.end(), 0.0);
  for (double& x : probs) x /= sum;
}

int32_t draw(const std::vector<double>& probs, Rng& rng) {
  const double sum = std::accumulate(probs.begin(), probs.end(), 0.0);
  double u = rng.uniform() * sum;
  int32_t last = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0.0) continue;
    last = int32_t(i);
    if ((u -= probs[i]) < 0) return last;
  }
  return last;  // rounding left u >= 0 after the last positive entry
}

int32_t sample_token(const float* logits, int64_t n, const SamplingParams& p, Rng& rng) {
  if (p.greedy()) return argmax(logits, n);
  std::vector<double> probs;
  sampling_distribution(probs, logits, n, p);
  return draw(probs, rng);
}

TokenLogprobs token_logprobs(const float* logits, int64_t n, int32_t token, int64_t top) {
  const double mx = logits[argmax(logits, n)];
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  TokenLogprobs r;
  r.logprob = float(double(logits[token]) - lse);
  top = std::min(top, n);
  if (top > 0) {
    std::vector<int32_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + top, idx.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (int64_t i = 0; i < top; ++i) r.top.emplace_back(idx[size_t(i)], float(double(logits[idx[size_t(i)]]) - lse));
  }
  return r;
}

}  // namespace dsv3
