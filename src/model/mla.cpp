#include "model/mla.h"

#include <cstring>
#include <vector>

#include "kernels/attention.h"
#include "kernels/linear.h"
#include "kernels/ops.h"
#include "kernels/precision_linear.h"
#include "kernels/profile.h"
#include "model/attention.h"

namespace dsv3 {

namespace {

// Column block [c0, c0 + width) of every row of a [n, stride] matrix, made contiguous.
void gather_cols(float* dst, const float* src, int64_t n, int64_t stride, int64_t c0, int64_t width) {
  for (int64_t t = 0; t < n; ++t) std::memcpy(dst + t * width, src + t * stride + c0, size_t(width) * 4);
}
void scatter_cols(float* dst, const float* src, int64_t n, int64_t stride, int64_t c0, int64_t width) {
  for (int64_t t = 0; t < n; ++t) std::memcpy(dst + t * stride + c0, src + t * width, size_t(width) * 4);
}

// Applies RoPE to the last dr dims of each head of q [n, H·qk] at each row's position, and
// returns the positions' cos/sin tables [n, dr/2] for the shared key.
void rope_queries(float* q, int64_t n, const MlaDims& d, const Rope& rope, const int32_t* pos,
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

// Splits row t of kv_a_proj_with_mqa's output [r + dr] into the latent c_KV = RMSNorm(c)
// (written to latent [r]) and the rotated shared key k_R (written to k_r [dr]).
void split_latent_row(float* latent, float* k_r, const float* kv_row, const MlaWeights& w, const MlaDims& d,
                      const MlaContext& ctx, const float* cos, const float* sin) {
  rmsnorm(latent, kv_row, w.kv_a_layernorm.data, 1, d.r, float(ctx.cfg.rms_norm_eps));
  std::memcpy(k_r, kv_row + d.r, size_t(d.dr) * 4);
  ctx.rope.rotate(k_r, cos, sin);
}

}  // namespace

void mla_queries(float* q, const float* x, int64_t n, const MlaWeights& w, const ModelConfig& cfg, Precision p,
                 std::vector<float>* cq_raw, std::vector<float>* cq) {
  if (cfg.q_lora_rank == 0) {
    linear_forward(q, x, n, w.q_proj, p);
    return;
  }
  std::vector<float> raw_local, cq_local;
  std::vector<float>& raw = cq_raw ? *cq_raw : raw_local;
  std::vector<float>& normed = cq ? *cq : cq_local;
  raw.resize(size_t(n * cfg.q_lora_rank));
  normed.resize(size_t(n * cfg.q_lora_rank));
  linear_forward(raw.data(), x, n, w.q_a_proj, p);
  rmsnorm(normed.data(), raw.data(), w.q_a_layernorm.data, n, cfg.q_lora_rank, float(cfg.rms_norm_eps));
  linear_forward(q, normed.data(), n, w.q_b_proj, p);
}

void mla_forward_cached(float* out, const float* x, int64_t n, const MlaWeights& w, const MlaContext& ctx,
                        const RowPlacement& rows) {
  const MlaDims d(ctx.cfg);
  std::vector<float> q(size_t(n * d.H * d.qk)), kv(size_t(n * (d.r + d.dr)));
  mla_queries(q.data(), x, n, w, ctx.cfg);
  linear(kv.data(), x, n, w.kv_a_proj_with_mqa);
  std::vector<float> cos, sin;
  rope_queries(q.data(), n, d, ctx.rope, rows.pos, cos, sin);

  // c_KV = RMSNorm(latent), k_R = RoPE(shared key): exactly what the cache stores (rounded to
  // the cache's type).
  std::vector<float> latent(size_t(d.r)), k_r(size_t(d.dr));
  for (int64_t t = 0; t < n; ++t) {
    split_latent_row(latent.data(), k_r.data(), kv.data() + t * (d.r + d.dr), w, d, ctx, cos.data() + t * d.dr / 2,
                     sin.data() + t * d.dr / 2);
    rows.caches[rows.seq[t]]->store(rows.layer, rows.pos[t], latent.data(), k_r.data());
  }

  // Absorb W_UK into the queries: q_lat[t, h] = q_C[t, h] · W_UK[h]   ([dn] x [dn, r] -> [r]).
  std::vector<float> q_lat(size_t(n * d.H * d.r));
#pragma omp parallel for schedule(static) if (n * d.H * d.dn * d.r > (1 << 15))
  for (int64_t h = 0; h < d.H; ++h) {
    std::vector<float> qc(size_t(n * d.dn)), ql(size_t(n * d.r));
    gather_cols(qc.data(), q.data(), n, d.H * d.qk, h * d.qk, d.dn);
    linear_t(ql.data(), qc.data(), n, w.kv_b_proj.rows_slice(h * d.kvh, d.dn));
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
    linear(oh.data(), ol.data(), n, w.kv_b_proj.rows_slice(h * d.kvh + d.dn, d.dv));
    scatter_cols(attn.data(), oh.data(), n, d.H * d.dv, h * d.dv, d.dv);
  }
  linear(out, attn.data(), n, w.o_proj);
}

void mla_forward(float* out, const float* x, const Rows& rows, const MlaWeights& w, const MlaContext& ctx,
                 Precision p, MlaActs* acts) {
  const MlaDims d(ctx.cfg);
  const int64_t n = rows.n(), T = rows.T;
  MlaActs local;
  MlaActs& a = acts ? *acts : local;
  a.q.resize(size_t(n * d.H * d.qk));
  mla_queries(a.q.data(), x, n, w, ctx.cfg, p, &a.cq_raw, &a.cq);
  std::vector<float> kv(size_t(n * (d.r + d.dr)));
  linear_forward(kv.data(), x, n, w.kv_a_proj_with_mqa, p);
  std::vector<int32_t> pos(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) pos[size_t(i)] = int32_t(i % T);
  std::vector<float> cos, sin;
  rope_queries(a.q.data(), n, d, ctx.rope, pos.data(), cos, sin);

  a.ckv.resize(size_t(n * d.r));
  a.latent.resize(size_t(n * d.r));
  a.k_r.resize(size_t(n * d.dr));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = kv.data() + i * (d.r + d.dr);
    std::memcpy(a.ckv.data() + i * d.r, row, size_t(d.r) * 4);
    split_latent_row(a.latent.data() + i * d.r, a.k_r.data() + i * d.dr, row, w, d, ctx, cos.data() + i * d.dr / 2,
                     sin.data() + i * d.dr / 2);
  }
  // [k_C ; v] for every token and head.
  a.kvb.resize(size_t(n * d.H * d.kvh));
  linear_forward(a.kvb.data(), a.latent.data(), n, w.kv_b_proj, p);

  a.probs.resize(size_t(rows.B * d.H * T * T));  // only each row's columns 0..t are used
  a.attn.resize(size_t(n * d.H * d.dv));
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int64_t b = 0; b < rows.B; ++b) {
    for (int64_t h = 0; h < d.H; ++h) {
      const float* kvb = a.kvb.data() + b * T * d.H * d.kvh + h * d.kvh;
      const StridedRows k_c{kvb, d.H * d.kvh}, v{kvb + d.dn, d.H * d.kvh}, k_r{a.k_r.data() + b * T * d.dr, d.dr};
      float* P = a.probs.data() + (b * d.H + h) * T * T;
      for (int64_t t = 0; t < T; ++t) {
        const float* qh = a.q.data() + (b * T + t) * d.H * d.qk + h * d.qk;
        attention_probs(P + t * T, {qh, d.dn, qh + d.dn, d.dr}, k_c, k_r, t + 1, ctx.softmax_scale);
        attention_weighted_sum(a.attn.data() + (b * T + t) * d.H * d.dv + h * d.dv, P + t * T, v, d.dv, t + 1);
      }
    }
  }
  linear_forward(out, a.attn.data(), n, w.o_proj, p);
}

}  // namespace dsv3
