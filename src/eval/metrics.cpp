#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"

namespace dsv3::eval {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n < 1 || c < 0 || c > n || k < 1 || k > n) fail("pass@k needs 0 <= c <= n and 1 <= k <= n (n ", n, ", c ", c, ", k ", k, ")");
  if (n - c < k) return 1.0;  // every k-subset holds a correct sample
  // C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i), the numerically stable product.
  double fail_all = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) fail_all *= 1.0 - double(k) / double(i);
  return 1.0 - fail_all;
}

Interval wilson_interval(int64_t successes, int64_t n, double z) {
  if (n <= 0) return {0, 0};
  const double p = double(successes) / double(n), z2 = z * z, nn = double(n);
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  // At 0 or n successes the bound is exactly 0 or 1 (the closed form only rounds to it).
  return {successes == 0 ? 0.0 : std::max(0.0, centre - half), successes == n ? 1.0 : std::min(1.0, centre + half)};
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

Interval bootstrap_mean_interval(const std::vector<double>& values, int64_t resamples, uint64_t seed) {
  if (values.empty()) return {0, 0};
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<size_t> pick(0, values.size() - 1);
  std::vector<double> means(size_t(std::max<int64_t>(resamples, 1)));
  for (double& m : means) {
    double s = 0;
    for (size_t i = 0; i < values.size(); ++i) s += values[pick(gen)];
    m = s / double(values.size());
  }
  std::sort(means.begin(), means.end());
  const auto at = [&](double q) { return means[std::min(means.size() - 1, size_t(q * double(means.size() - 1) + 0.5))]; };
  return {at(0.025), at(0.975)};
}

Interval normal_mean_interval(const std::vector<double>& v, double z) {
  const double m = mean(v);
  if (v.size() < 2) return {m, m};
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  const double se = std::sqrt(s / double(v.size() - 1) / double(v.size()));
  return {m - z * se, m + z * se};
}

int64_t choice_length(std::string_view s) {
  int64_t n = 0;
  for (char ch : s) n += (uint8_t(ch) & 0xC0) != 0x80;  // count lead bytes, not continuations
  return n;
}

int64_t argmax_index(const std::vector<double>& v) {
  return v.empty() ? -1 : int64_t(std::max_element(v.begin(), v.end()) - v.begin());
}

McOutcome mc_outcome(const std::vector<double>& loglik, const std::vector<std::string>& choices) {
  std::vector<double> norm(loglik.size());
  for (size_t i = 0; i < loglik.size(); ++i) norm[i] = loglik[i] / double(std::max<int64_t>(choice_length(choices[i]), 1));
  return {argmax_index(loglik), argmax_index(norm)};
}

}  // namespace dsv3::eval
