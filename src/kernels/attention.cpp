#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/ops.h"

namespace dsv3 {

namespace {
constexpr int64_t kTile = 64;  // positions per tile: the tile's latents (64 x 512 floats) stay in L2
}  // namespace

void latent_attention(float* o, int64_t ldo, const float* q_lat, int64_t ldq, const float* q_pe, int64_t ldp,
                      int64_t nh, int64_t r, int64_t dr, const LatentRows& cache, float scale) {
  thread_local std::vector<float> scores_buf, max_buf, sum_buf;
  scores_buf.resize(size_t(nh * kTile));
  max_buf.assign(size_t(nh), -std::numeric_limits<float>::infinity());
  sum_buf.assign(size_t(nh), 0.0f);
  float* sc = scores_buf.data();  // [nh][kTile]
  float* mx = max_buf.data();
  float* sum = sum_buf.data();
  for (int64_t h = 0; h < nh; ++h) std::memset(o + h * ldo, 0, size_t(r) * sizeof(float));

  for (int64_t s0 = 0; s0 < cache.len; s0 += kTile) {
    const int64_t ns = std::min(kTile, cache.len - s0);
    // Scores: each cached row once, against every head's query.
    for (int64_t s = 0; s < ns; ++s) {
      const float* kv = cache.kv + (s0 + s) * cache.kv_stride;
      const float* pe = cache.pe + (s0 + s) * cache.pe_stride;
      for (int64_t h = 0; h < nh; ++h)
        sc[h * kTile + s] = (dot(q_lat + h * ldq, kv, r) + dot(q_pe + h * ldp, pe, dr)) * scale;
    }
    // Online softmax: rescale what was summed under the old maximum.
    for (int64_t h = 0; h < nh; ++h) {
      float* p = sc + h * kTile;
      const float m_new = std::max(mx[h], *std::max_element(p, p + ns));
      const float corr = std::exp(mx[h] - m_new);  // 0 on the first tile (mx = -inf)
      if (corr != 1.0f) {
        sum[h] *= corr;
        float* oh = o + h * ldo;
        for (int64_t i = 0; i < r; ++i) oh[i] *= corr;
      }
      for (int64_t s = 0; s < ns; ++s) {
        p[s] = std::exp(p[s] - m_new);
        sum[h] += p[s];
      }
      mx[h] = m_new;
    }
    // o[h] += Σ_s p[h][s] · c_KV[s], again each row once for every head.
    for (int64_t s = 0; s < ns; ++s) {
      const float* kv = cache.kv + (s0 + s) * cache.kv_stride;
      for (int64_t h = 0; h < nh; ++h) axpy(o + h * ldo, sc[h * kTile + s], kv, r);
    }
  }
  for (int64_t h = 0; h < nh; ++h) {
    const float inv = 1.0f / sum[h];
    float* oh = o + h * ldo;
    for (int64_t i = 0; i < r; ++i) oh[i] *= inv;
  }
}

}  // namespace dsv3
