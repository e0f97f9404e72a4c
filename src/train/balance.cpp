#include "train/balance.h"

#include <algorithm>

#include "core/error.h"

namespace dsv3 {

void update_routing_bias(const ParamLayout& layout, float* biases, const std::vector<std::vector<int64_t>>& load,
                         double gamma) {
  if (layout.biases().empty() || gamma == 0.0) return;
  if (layout.biases().size() != load.size())
    fail("routing bias update: ", layout.biases().size(), " biased layers but ", load.size(), " load counts");
  for (size_t l = 0; l < load.size(); ++l) {
    const ParamTensor& t = layout.biases()[l];
    const auto& c = load[l];
    int64_t total = 0;
    for (int64_t x : c) total += x;
    const double mean = double(total) / double(c.size());
    float* b = biases + t.offset;
    for (size_t e = 0; e < c.size(); ++e) {
      const double d = mean - double(c[e]);
      b[e] += float(gamma * double((d > 0) - (d < 0)));
    }
  }
}

std::vector<double> load_max_over_mean(const std::vector<std::vector<int64_t>>& load) {
  std::vector<double> out;
  for (const auto& c : load) {
    int64_t total = 0, mx = 0;
    for (int64_t x : c) {
      total += x;
      mx = std::max(mx, x);
    }
    out.push_back(total > 0 ? double(mx) * double(c.size()) / double(total) : 0.0);
  }
  return out;
}

}  // namespace dsv3
