#include "train/loss.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/log_softmax.h"
#include "kernels/precision_linear.h"
#include "model/embedding.h"

namespace dsv3 {

namespace {
constexpr int64_t kChunk = 128;  // rows of logits formed at a time
}

double log_prob(const float* z, int64_t V, int32_t y, int64_t* argmax) {
  const RowSoftmax s(z, V);
  if (argmax) *argmax = s.arg;
  return s.log_prob(z[y]);
}

HeadLoss head_loss(const float* h, int64_t n, const int32_t* targets, const Weight& head, Precision p, float coef,
                   float* dh, float* dhead, HeadObjective* objective) {
  const int64_t V = head.rows, H = head.cols;
  HeadLoss out;
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n; ++i)
    if (targets[i] >= 0) rows.push_back(i);
  if (dh) std::memset(dh, 0, size_t(n * H) * sizeof(float));
  std::vector<float> hc(size_t(kChunk * H)), logits(size_t(kChunk * V)), dhc(size_t(kChunk * H));
  std::vector<double> loss(static_cast<size_t>(kChunk));
  std::vector<uint8_t> hit(static_cast<size_t>(kChunk));
  for (size_t r0 = 0; r0 < rows.size(); r0 += kChunk) {
    const int64_t m = std::min<int64_t>(kChunk, int64_t(rows.size() - r0));
    for (int64_t j = 0; j < m; ++j) std::memcpy(&hc[size_t(j * H)], h + rows[r0 + size_t(j)] * H, size_t(H) * 4);
    head_forward(logits.data(), hc.data(), m, head, p);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < m; ++j) {
      float* z = &logits[size_t(j * V)];
      const int32_t y = targets[rows[r0 + size_t(j)]];
      if (objective) {  // it forms its own softmax: only the top-1 hit is counted here
        hit[size_t(j)] = std::max_element(z, z + V) - z == y;
        loss[size_t(j)] = objective->row(rows[r0 + size_t(j)], y, z, V, dh != nullptr);
        continue;
      }
      const RowSoftmax s(z, V);
      loss[size_t(j)] = s.log_se + s.mx - z[y];
      hit[size_t(j)] = s.arg == y;
      if (!dh) continue;
      // dlogits = coef · (softmax - onehot)
      const double inv = 1.0 / s.se;
      for (int64_t v = 0; v < V; ++v) z[v] = coef * float(std::exp(double(z[v] - s.mx)) * inv);
      z[y] -= coef;
    }
    for (int64_t j = 0; j < m; ++j) {
      out.sum += loss[size_t(j)];
      out.correct += hit[size_t(j)];
    }
    out.count += m;
    if (!dh) continue;
    linear_backward(dhc.data(), dhead, logits.data(), hc.data(), m, head, p);
    for (int64_t j = 0; j < m; ++j) std::memcpy(dh + rows[r0 + size_t(j)] * H, &dhc[size_t(j * H)], size_t(H) * 4);
  }
  return out;
}

}  // namespace dsv3
