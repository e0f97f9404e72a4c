// Pearson's chi-square goodness-of-fit for the statistical tests of samplers.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

namespace dsv3::test {

// Σ (observed − expected)² / expected over cells with expected count >= 5; the rest are pooled
// into one cell. Returns the statistic and sets dof (cells − 1).
inline double chi_square(const std::vector<double>& probs, const std::vector<int64_t>& counts, int64_t n, int* dof) {
  double stat = 0.0, pooled_e = 0.0, pooled_o = 0.0;
  int cells = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const double e = probs[i] * double(n);
    if (e < 5.0) {
      pooled_e += e;
      pooled_o += double(counts[i]);
      continue;
    }
    stat += (double(counts[i]) - e) * (double(counts[i]) - e) / e;
    ++cells;
  }
  if (pooled_e > 0.0) {
    stat += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    ++cells;
  } else if (pooled_o > 0.0) {
    stat += 1e9;  // outcomes the distribution forbids
  }
  *dof = cells - 1;
  return stat;
}

// The chi-square quantile at 1 − 0.001 (Wilson–Hilferty), a threshold that a correct sampler
// exceeds once in a thousand seeds; the tests use fixed seeds, so they are deterministic.
inline double chi_square_critical(int dof) {
  const double k = dof, z = 3.0902;
  const double c = 1.0 - 2.0 / (9.0 * k) + z * std::sqrt(2.0 / (9.0 * k));
  return k * c * c * c;
}

}  // namespace dsv3::test
