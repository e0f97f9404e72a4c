#include "infer/speculative.h"

#include <algorithm>

namespace dsv3 {

bool accept_draft(const std::vector<double>& p, const std::vector<double>& q, int32_t draft, Rng& rng) {
  const double pd = p[size_t(draft)], qd = q[size_t(draft)];
  if (pd >= qd) return true;  // also covers qd == 0 (a draft q could not have drawn)
  return rng.uniform() * qd < pd;
}

int32_t draw_residual(const std::vector<double>& p, const std::vector<double>& q, Rng& rng) {
  std::vector<double> r(p.size());
  double sum = 0.0;
  for (size_t i = 0; i < p.size(); ++i) sum += (r[i] = std::max(0.0, p[i] - q[i]));
  return draw(sum > 0.0 ? r : p, rng);
}

}  // namespace dsv3
