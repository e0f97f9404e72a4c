#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/isa_kernels.h"

namespace dsv3 {

namespace {
constexpr int64_t kTile = 64;  // positions per tile: the tile's latents (64 x 512 floats) stay in L2
}  // namespace

void latent_attention(float* o, int64_t ldo, const float* q_lat, int64_t ldq, const float* q_pe, int64_t ldp,
                      int64_t nh, int64_t r, int64_t dr, const LatentRows& cache, float scale) {
  thread_local std::vector<float> scores_buf, pe_buf, max_buf, sum_buf;
  scores_buf.resize(size_t(nh * kTile));
  pe_buf.resize(size_t(nh * kTile));
  float* pe_sc = pe_buf.data();
  max_buf.assign(size_t(nh), -std::numeric_limits<float>::infinity());
  sum_buf.assign(size_t(nh), 0.0f);
  float* sc = scores_buf.data();  // [nh][kTile]
  float* mx = max_buf.data();
  float* sum = sum_buf.data();
  for (int64_t h = 0; h < nh; ++h) std::memset(o + h * ldo, 0, size_t(r) * sizeof(float));

  const IsaKernels& k = isa_kernels();
  const bool bf16 = cache.dtype == DType::BF16;
  const size_t esize = bf16 ? 2 : 4;
  for (int64_t s0 = 0; s0 < cache.len; s0 += kTile) {
    const int64_t ns = std::min(kTile, cache.len - s0);
    const void* kv = static_cast<const uint8_t*>(cache.kv) + size_t(s0 * cache.kv_stride) * esize;
    const void* pe = static_cast<const uint8_t*>(cache.pe) + size_t(s0 * cache.pe_stride) * esize;
    // Scores sc[h][s] = q_lat[h]·c_KV[s] + q_pe[h]·k_R[s].
    if (bf16) {
      k.gemv_bf16(sc, kTile, q_lat, ldq, nh, static_cast<const uint16_t*>(kv), cache.kv_stride, ns, r);
      k.gemv_bf16(pe_sc, kTile, q_pe, ldp, nh, static_cast<const uint16_t*>(pe), cache.pe_stride, ns, dr);
    } else {
      k.gemv_f32(sc, kTile, q_lat, ldq, nh, static_cast<const float*>(kv), cache.kv_stride, ns, r);
      k.gemv_f32(pe_sc, kTile, q_pe, ldp, nh, static_cast<const float*>(pe), cache.pe_stride, ns, dr);
    }
    // Online softmax: rescale what was summed under the old maximum.
    for (int64_t h = 0; h < nh; ++h) {
      float* p = sc + h * kTile;
      for (int64_t s = 0; s < ns; ++s) p[s] = (p[s] + pe_sc[h * kTile + s]) * scale;
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
    // o[h] += Σ_s p[h][s] · c_KV[s].
    if (bf16) k.gemv_t_bf16(o, ldo, sc, kTile, nh, static_cast<const uint16_t*>(kv), cache.kv_stride, ns, r);
    else k.gemv_t_f32(o, ldo, sc, kTile, nh, static_cast<const float*>(kv), cache.kv_stride, ns, r);
  }
  for (int64_t h = 0; h < nh; ++h) {
    const float inv = 1.0f / sum[h];
    float* oh = o + h * ldo;
    for (int64_t i = 0; i < r; ++i) oh[i] *= inv;
  }
}

}  // namespace dsv3
