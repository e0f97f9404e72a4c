#include "model/mla.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/attention.h"
#include "kernels/linear.h"
#include "kernels/ops.h"
#include "kernels/profile.h"

namespace dsv3 {

namespace {

struct Dims {
  int64_t H, dn, dr, dv, r, qk;
  explicit Dims(const ModelConfig& c)
      : H(c.num_attention_heads), dn(c.qk_nope_head_dim), dr(c.qk_rope_head_dim), dv(c.v_head_dim),
        r(c.kv_lora_rank), qk(c.qk_nope_head_dim + c.qk_rope_head_dim) {}
};

// Column block [c0, c0 + width) of every row of a [n, stride] matrix, made contiguous.
void gather_cols(float* dst, const float* src, int64_t n, int64_t stride, int64_t c0, int64_t width) {
  for (int64_t t = 0; t < n; ++t) std::memcpy(dst + t * width, src + t * stride + c0, size_t(width) * 4);
}
void scatter_cols(float* dst, const float* src, int64_t n, int64_t stride, int64_t c0, int64_t width) {
  for (int64_t t = 0; t < n; ++t) std::memcpy(dst + t * stride + c0, src + t * width, size_t(width) * 4);
}

// Applies RoPE to the last dr dims of each head of q [n, H·qk] at each row's position, and
// returns the rotated shared keys' cos/sin tables [n, dr/2] for reuse.
void rope_rows(float* q, int64_t n, const Dims& d, const Rope& rope, const int32_t* pos,
               std::vector<float>& cos, std::vector<float>& sin) {
  cos.resize(size_t(n * d.dr / 2));
  sin.resize(size_t(n * d.dr / 2));
  for (int64_t t = 0; t < n; ++t) {
    float* c = cos.data() + t * d.dr / 2;
    float* s = sin.data() + t * d.dr / 2;
    rope.angles(pos[t], c, s);
    for (int64_t h = 0; h < d.H; ++h) rope.rotate(q + t * d.H * d.qk + h * d.qk + d.dn, c, s);
  }
}

}  // namespace

void mla_queries(float* q, const float* x, int64_t n, const MlaWeights& w, const ModelConfig& cfg) {
  if (cfg.q_lora_rank == 0) {
    linear(q, x, n, w.q_proj);
    return;
  }
  std::vector<float> cq(size_t(n * cfg.q_lora_rank));
  linear(cq.data(), x, n, w.q_a_proj);
  rmsnorm(cq.data(), cq.data(), w.q_a_layernorm.data, n, cfg.q_lora_rank, float(cfg.rms_norm_eps));
  linear(q, cq.data(), n, w.q_b_proj);
}

void mla_forward_cached(float* out, const float* x, int64_t n, const MlaWeights& w, const MlaContext& ctx,
                        const RowPlacement& rows) {
  const Dims d(ctx.cfg);
  std::vector<float> q(size_t(n * d.H * d.qk)), kv(size_t(n * (d.r + d.dr)));
  mla_queries(q.data(), x, n, w, ctx.cfg);
  linear(kv.data(), x, n, w.kv_a_proj_with_mqa);
  std::vector<float> cos, sin;
  rope_rows(q.data(), n, d, ctx.rope, rows.pos, cos, sin);

  // c_KV = RMSNorm(latent), k_R = RoPE(shared key): exactly what the cache stores.
  for (int64_t t = 0; t < n; ++t) {
    float* src = kv.data() + t * (d.r + d.dr);
    rmsnorm(src, src, w.kv_a_layernorm.data, 1, d.r, float(ctx.cfg.rms_norm_eps));
    ctx.rope.rotate(src + d.r, cos.data() + t * d.dr / 2, sin.data() + t * d.dr / 2);
    rows.caches[rows.seq[t]]->store(rows.layer, rows.pos[t], src, src + d.r);
  }

  // Absorb W_UK into the queries: q_lat[t, h] = q_C[t, h] · W_UK[h]   ([dn] x [dn, r] -> [r]).
  std::vector<float> q_lat(size_t(n * d.H * d.r));
#pragma omp parallel for schedule(static) if (n * d.H * d.dn * d.r > (1 << 15))
  for (int64_t h = 0; h < d.H; ++h) {
    std::vector<float> qc(size_t(n * d.dn)), ql(size_t(n * d.r));
    gather_cols(qc.data(), q.data(), n, d.H * d.qk, h * d.qk, d.dn);
    linear_t(ql.data(), qc.data(), n, w.kv_b_proj.rows_slice(h * (d.dn + d.dv), d.dn));
    scatter_cols(q_lat.data(), ql.data(), n, d.H * d.r, h * d.r, d.r);
  }

  // Attention over the cached latents: o_lat[t, h] = Σ_s p_s · c_KV[s].
  std::vector<float> o_lat(size_t(n * d.H * d.r));
  {
    const profile::Scope prof("attention.latent", rows.layer);
    const int64_t groups = (d.H + kLatentHeadGroup - 1) / kLatentHeadGroup;
#pragma omp parallel for collapse(2) schedule(dynamic)
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t g = 0; g < groups; ++g) {
        const SequenceCache& c = *rows.caches[rows.seq[t]];
        const int64_t h0 = g * kLatentHeadGroup, nh = std::min(kLatentHeadGroup, d.H - h0);
        const LatentRows cache = c.rows(rows.layer, rows.pos[t] + 1);
        latent_attention(o_lat.data() + (t * d.H + h0) * d.r, d.r, q_lat.data() + (t * d.H + h0) * d.r, d.r,
                         q.data() + t * d.H * d.qk + h0 * d.qk + d.dn, d.qk, nh, d.r, d.dr, cache, ctx.softmax_scale);
      }
    }
  }

  // Un-absorb through W_UV: o[t, h] = W_UV[h] · o_lat[t, h]   ([dv, r] x [r] -> [dv]).
  std::vector<float> attn(size_t(n * d.H * d.dv));
#pragma omp parallel for schedule(static) if (n * d.H * d.dv * d.r > (1 << 15))
  for (int64_t h = 0; h < d.H; ++h) {
    std::vector<float> ol(size_t(n * d.r)), oh(size_t(n * d.dv));
    gather_cols(ol.data(), o_lat.data(), n, d.H * d.r, h * d.r, d.r);
    linear(oh.data(), ol.data(), n, w.kv_b_proj.rows_slice(h * (d.dn + d.dv) + d.dn, d.dv));
    scatter_cols(attn.data(), oh.data(), n, d.H * d.dv, h * d.dv, d.dv);
  }
  linear(out, attn.data(), n, w.o_proj);
}

void mla_forward_naive(float* out, const float* x, int64_t T, const MlaWeights& w, const MlaContext& ctx) {
  const Dims d(ctx.cfg);
  std::vector<int32_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = int32_t(t);
  std::vector<float> q(size_t(T * d.H * d.qk)), kv(size_t(T * (d.r + d.dr)));
  mla_queries(q.data(), x, T, w, ctx.cfg);
  linear(kv.data(), x, T, w.kv_a_proj_with_mqa);
  std::vector<float> cos, sin;
  rope_rows(q.data(), T, d, ctx.rope, pos.data(), cos, sin);

  std::vector<float> latent(size_t(T * d.r)), k_r(size_t(T * d.dr));
  for (int64_t t = 0; t < T; ++t) {
    const float* src = kv.data() + t * (d.r + d.dr);
    rmsnorm(latent.data() + t * d.r, src, w.kv_a_layernorm.data, 1, d.r, float(ctx.cfg.rms_norm_eps));
    std::memcpy(k_r.data() + t * d.dr, src + d.r, size_t(d.dr) * 4);
    ctx.rope.rotate(k_r.data() + t * d.dr, cos.data() + t * d.dr / 2, sin.data() + t * d.dr / 2);
  }
  // [k_C ; v] for every token and head.
  std::vector<float> kvb(size_t(T * d.H * (d.dn + d.dv)));
  linear(kvb.data(), latent.data(), T, w.kv_b_proj);

  std::vector<float> attn(size_t(T * d.H * d.dv), 0.0f);
#pragma omp parallel
  {
    std::vector<float> p;
#pragma omp for collapse(2) schedule(dynamic, 4)
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < d.H; ++h) {
        const float* qc = q.data() + t * d.H * d.qk + h * d.qk;
        p.resize(size_t(t + 1));
        for (int64_t s = 0; s <= t; ++s) {
          const float* kc = kvb.data() + (s * d.H + h) * (d.dn + d.dv);
          p[size_t(s)] = (dot(qc, kc, d.dn) + dot(qc + d.dn, k_r.data() + s * d.dr, d.dr)) * ctx.softmax_scale;
        }
        softmax(p.data(), t + 1);
        float* o = attn.data() + t * d.H * d.dv + h * d.dv;
        for (int64_t s = 0; s <= t; ++s) axpy(o, p[size_t(s)], kvb.data() + (s * d.H + h) * (d.dn + d.dv) + d.dn, d.dv);
      }
    }
  }
  linear(out, attn.data(), T, w.o_proj);
}

}  // namespace dsv3
