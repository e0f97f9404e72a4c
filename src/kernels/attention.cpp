#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <omp.h>

#include "kernels/isa_kernels.h"

namespace dsv3 {

namespace {

constexpr int64_t kTile = 64;  // positions per tile: the tile's latents (64 x 512 floats) stay in L2
constexpr float kInf = std::numeric_limits<float>::infinity();

// y[h][s] = q_c[h]·k_c[s0 + s] + q_r[h]·k_r[s0 + s] for the ns positions of a tile, whose rows
// start at kc and kr (stored rows: both parts in one pass for all heads, attention_kernels.inc;
// FP8: the codes' dot times the row's scale rs[s]), or (transposed, F32) columns s0.. of
// matrices stored by dimension.
void scores(const IsaKernels& k, float* y, const AttentionQueries& q, const AttentionRows& kv, const void* kc,
            const void* kr, int64_t s0, int64_t ns, const float* rs) {
  for (int64_t h = 0; h < q.n; ++h) std::memset(y + h * kTile, 0, size_t(ns) * sizeof(float));
  if (kv.keys_transposed) {  // each part summed on its own, then added: the decompressed form as before
    thread_local std::vector<float> r_buf;
    r_buf.assign(size_t(q.n * kTile), 0.0f);
    k.gemv_t_f32(y, kTile, q.c, q.ldc, q.n, static_cast<const float*>(kc) + s0, kv.k_c_stride, kv.dc, ns);
    k.gemv_t_f32(r_buf.data(), kTile, q.r, q.ldr, q.n, static_cast<const float*>(kr) + s0, kv.k_r_stride, kv.dr, ns);
    for (int64_t h = 0; h < q.n; ++h)
      for (int64_t s = 0; s < ns; ++s) y[h * kTile + s] += r_buf[size_t(h * kTile + s)];
    return;
  }
  const AttnScoreArgs a{q.c, q.ldc, q.r, q.ldr, q.n, kc, kv.k_c_stride, kv.dc, kr, kv.k_r_stride, kv.dr, ns, rs};
  if (kv.dtype == DType::BF16) k.attn_scores_bf16(y, kTile, a);
  else if (kv.dtype == DType::F8_E4M3) k.attn_scores_fp8(y, kTile, a);
  else k.attn_scores_f32(y, kTile, a);
}

// o[h] += Σ_s p[h][s] · row s. FP8 rows: the weights times each row's scale rs[s] first, so the
// transposed product reads the codes alone.
void weighted_sum(const IsaKernels& k, float* o, int64_t ldo, const float* p, int64_t nh, DType dtype,
                  const void* rows, int64_t stride, int64_t ns, int64_t width, const float* rs) {
  if (dtype == DType::BF16) {
    k.gemv_t_bf16(o, ldo, p, kTile, nh, static_cast<const uint16_t*>(rows), stride, ns, width);
  } else if (dtype == DType::F8_E4M3) {
    thread_local std::vector<float> ps;
    ps.resize(size_t(nh * kTile));
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t s = 0; s < ns; ++s) ps[size_t(h * kTile + s)] = p[h * kTile + s] * rs[s];
    k.gemv_t_fp8(o, ldo, ps.data(), kTile, nh, static_cast<const uint8_t*>(rows), stride, ns, width);
  } else {
    k.gemv_t_f32(o, ldo, p, kTile, nh, static_cast<const float*>(rows), stride, ns, width);
  }
}

// The scales of positions s0.. (FP8 only; a tile never spans two pages), else null.
const float* scales_at(const AttentionRows& kv, int64_t s0) {
  if (kv.dtype != DType::F8_E4M3) return nullptr;
  if (!kv.pages) return kv.scales + s0;
  return reinterpret_cast<const float*>(kv.pages[s0 / kv.page_len] + kv.scale_offset) + s0 % kv.page_len;
}

// Row s of one part (k_c, k_r or v) of kv: in the strided matrix at base, or in s's page, the
// part's row 0 at byte `offset` of every page.
const void* row_at(const AttentionRows& kv, const void* base, int64_t offset, int64_t s, int64_t stride,
                   size_t esize) {
  if (!kv.pages) return static_cast<const uint8_t*>(base) + size_t(s * stride) * esize;
  return kv.pages[s / kv.page_len] + offset + size_t((s % kv.page_len) * stride) * esize;
}

// Positions [begin, end) of kv, unnormalized: o[h] = Σ_s e^(score[h][s] - mx[h]) · v[s] and
// sum[h] = Σ_s e^(score[h][s] - mx[h]), mx[h] the largest score (-inf and 0s when nothing is
// attended). probs, if not null, receives the raw scores (columns begin..end-1).
void attend_range(float* o, int64_t ldo, float* mx, float* sum, const AttentionQueries& q, const AttentionRows& kv,
                  float scale, int64_t begin, int64_t end, float* probs, int64_t ldp) {
  const int64_t nh = q.n;
  thread_local std::vector<float> scores_buf;
  scores_buf.resize(size_t(nh * kTile));
  float* sc = scores_buf.data();  // [nh][kTile]
  std::fill(mx, mx + nh, -kInf);
  std::fill(sum, sum + nh, 0.0f);
  for (int64_t h = 0; h < nh; ++h) std::memset(o + h * ldo, 0, size_t(kv.dv) * sizeof(float));

  const IsaKernels& k = isa_kernels();
  const size_t esize = dtype_size(kv.dtype);
  const DType kr_dtype = kv.dtype == DType::F8_E4M3 ? DType::BF16 : kv.dtype;  // FP8 keeps k_r in BF16
  for (int64_t s0 = begin, ns = 0; s0 < end; s0 += ns) {
    ns = std::min(kTile, end - s0);
    if (kv.pages) ns = std::min(ns, kv.page_len - s0 % kv.page_len);  // the rest of s0's page at most
    // Scores sc[h][s] = q_c[h]·k_c[s] + q_r[h]·k_r[s].
    const void* kc = kv.keys_transposed ? kv.k_c : row_at(kv, kv.k_c, kv.k_c_offset, s0, kv.k_c_stride, esize);
    const void* kr =
        kv.keys_transposed ? kv.k_r : row_at(kv, kv.k_r, kv.k_r_offset, s0, kv.k_r_stride, dtype_size(kr_dtype));
    const float* rs = scales_at(kv, s0);
    scores(k, sc, q, kv, kc, kr, s0, ns, rs);
    // Online softmax: rescale what was summed under the old maximum.
    for (int64_t h = 0; h < nh; ++h) {
      float* p = sc + h * kTile;
      for (int64_t s = 0; s < ns; ++s) p[s] *= scale;
      // Positions past the row's end weigh exp(-inf) = 0: adding them changes no sum, so a
      // masked row's result equals attending to its own positions alone.
      if (q.end)
        for (int64_t s = std::max<int64_t>(0, q.end[h] - s0); s < ns; ++s) p[s] = -kInf;
      if (probs) std::memcpy(probs + h * ldp + s0, p, size_t(ns) * sizeof(float));  // normalized at the end
      const float m_new = std::max(mx[h], *std::max_element(p, p + ns));
      if (m_new == -kInf) {  // all masked so far: nothing to weigh
        std::fill(p, p + ns, 0.0f);
        continue;
      }
      const float corr = std::exp(mx[h] - m_new);  // 0 on the first tile (mx = -inf)
      if (corr != 1.0f) {
        sum[h] *= corr;
        float* oh = o + h * ldo;
        for (int64_t i = 0; i < kv.dv; ++i) oh[i] *= corr;
      }
      k.exp_shift(p, ns, m_new);
      for (int64_t s = 0; s < ns; ++s) sum[h] += p[s];  // in order: a row's sum ignores the block
      mx[h] = m_new;
    }
    // o[h] += Σ_s p[h][s] · v[s].
    weighted_sum(k, o, ldo, sc, nh, kv.dtype, row_at(kv, kv.v, kv.v_offset, s0, kv.v_stride, esize), kv.v_stride, ns,
                 kv.dv, rs);
  }
}

}  // namespace

void attend(float* o, int64_t ldo, const AttentionQueries& q, const AttentionRows& kv, float scale, float* probs,
            int64_t ldp) {
  const int64_t nh = q.n;
  thread_local std::vector<float> max_buf, sum_buf;
  max_buf.resize(size_t(nh));
  sum_buf.resize(size_t(nh));
  float* mx = max_buf.data();
  float* sum = sum_buf.data();
  attend_range(o, ldo, mx, sum, q, kv, scale, 0, kv.len, probs, ldp);
  const IsaKernels& k = isa_kernels();
  for (int64_t h = 0; h < nh; ++h) {
    const float inv = 1.0f / sum[h];
    float* oh = o + h * ldo;
    for (int64_t i = 0; i < kv.dv; ++i) oh[i] *= inv;
    if (!probs) continue;
    float* ph = probs + h * ldp;  // the same weights the sum used: exp(score - final max) / sum
    k.exp_shift(ph, kv.len, mx[h]);
    for (int64_t s = 0; s < kv.len; ++s) ph[s] *= inv;
  }
}

int64_t latent_chunks(int64_t len) { return std::max<int64_t>(1, (len + kLatentChunk - 1) / kLatentChunk); }

void latent_attention(float* o, int64_t ldo, const float* q_lat, int64_t ldq, const float* q_pe, int64_t ldp,
                      int64_t nh, int64_t r, int64_t dr, const LatentRows& cache, float scale) {
  AttentionRows kv{cache.dtype, cache.kv, cache.kv_stride, r, cache.pe, cache.pe_stride, dr, cache.kv, cache.kv_stride,
                   r, cache.len};
  if (cache.pages) {
    kv.pages = cache.pages;
    kv.page_len = cache.page_len;
    kv.k_c_offset = kv.v_offset = cache.kv_offset;
    kv.k_r_offset = cache.pe_offset;
  }
  kv.scales = cache.scales;
  kv.scale_offset = cache.scale_offset;
  const AttentionQueries q{q_lat, ldq, q_pe, ldp, nh};
  const int64_t chunks = latent_chunks(cache.len);
  if (chunks == 1) return attend(o, ldo, q, kv, scale);

  // Split-K over positions: chunk c gives (mx_c, sum_c, o_c) unnormalized; then
  //   M = max_c mx_c,  o = Σ_c e^(mx_c - M) · o_c / Σ_c e^(mx_c - M) · sum_c.
  // The chunks depend on the length alone, so the result does not depend on the threads.
  thread_local std::vector<float> part_buf, mx_buf, sum_buf;
  part_buf.resize(size_t(chunks * nh * r));
  mx_buf.resize(size_t(chunks * nh));
  sum_buf.resize(size_t(chunks * nh));
  float* part = part_buf.data();  // [chunks][nh][r]
  float* mx = mx_buf.data();      // [chunks][nh]
  float* sum = sum_buf.data();    // [chunks][nh]
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
  for (int64_t c = 0; c < chunks; ++c)
    attend_range(part + c * nh * r, r, mx + c * nh, sum + c * nh, q, kv, scale, c * kLatentChunk,
                 std::min(cache.len, (c + 1) * kLatentChunk), nullptr, 0);
  for (int64_t h = 0; h < nh; ++h) {
    float m = -kInf;
    for (int64_t c = 0; c < chunks; ++c) m = std::max(m, mx[c * nh + h]);
    float total = 0.0f;
    float* oh = o + h * ldo;
    std::memset(oh, 0, size_t(r) * sizeof(float));
    for (int64_t c = 0; c < chunks; ++c) {
      const float w = std::exp(mx[c * nh + h] - m);
      total += w * sum[c * nh + h];
      const float* ph = part + (c * nh + h) * r;
      for (int64_t i = 0; i < r; ++i) oh[i] += w * ph[i];
    }
    const float inv = 1.0f / total;
    for (int64_t i = 0; i < r; ++i) oh[i] *= inv;
  }
}

}  // namespace dsv3
