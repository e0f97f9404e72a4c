#include "train/mla_backward.h"

#include <cstring>
#include <vector>

#include "kernels/ops.h"
#include "kernels/precision_linear.h"
#include "train/weight_grad.h"
#include "train/ops_backward.h"

namespace dsv3 {

namespace {

// Backward of the attention of one (sequence b, head h) (mla_forward's call of attend,
// kernels/attention.h): dq (head h columns), dkvb (head h columns), dk_r [T, dr] of this head.
void attend_backward(const MlaDims& d, const Rows& rows, int64_t b, int64_t h, float scale, const MlaActs& a,
                     const float* dattn, float* dq, float* dkvb, float* dkr) {
  const int64_t T = rows.T;
  const float* P = a.probs.data() + (b * d.H + h) * T * T;
  std::vector<float> ds(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    const int64_t row = b * T + t;
    const float* p = P + t * T;
    const float* dout = dattn + row * d.H * d.dv + h * d.dv;
    double sum = 0.0;
    for (int64_t s = 0; s <= t; ++s) {
      const float* v = a.kvb.data() + (b * T + s) * d.H * d.kvh + h * d.kvh + d.dn;
      ds[size_t(s)] = dot(dout, v, d.dv);  // dP
      sum += double(p[s]) * ds[size_t(s)];
    }
    const float* q = a.q.data() + row * d.H * d.qk + h * d.qk;
    float* dqh = dq + row * d.H * d.qk + h * d.qk;
    for (int64_t s = 0; s <= t; ++s) {
      const int64_t srow = b * T + s;
      const float g = p[s] * (ds[size_t(s)] - float(sum)) * scale;  // d(score) before the scale
      const float* k = a.kvb.data() + srow * d.H * d.kvh + h * d.kvh;
      float* dk = dkvb + srow * d.H * d.kvh + h * d.kvh;
      axpy(dqh, g, k, d.dn);
      axpy(dqh + d.dn, g, a.k_r.data() + srow * d.dr, d.dr);
      axpy(dk, g, q, d.dn);
      axpy(dkr + s * d.dr, g, q + d.dn, d.dr);
      axpy(dk + d.dn, p[s], dout, d.dv);  // dv
    }
  }
}

}  // namespace

void mla_backward(float* dx, const float* dout, const float* x, const Rows& rows, const MlaWeights& w,
                  const MlaContext& ctx, Precision p, const MlaActs& a, const GradSink& g) {
  const MlaDims d(ctx.cfg);
  const int64_t n = rows.n(), rq = ctx.cfg.q_lora_rank, T = rows.T, half = d.dr / 2;
  const float eps = float(ctx.cfg.rms_norm_eps);
  std::vector<float> dattn(size_t(n * d.H * d.dv));
  linear_backward(dattn.data(), g, dout, a.attn.data(), n, w.o_proj, p);

  std::vector<float> dq(size_t(n * d.H * d.qk), 0.0f), dkvb(size_t(n * d.H * d.kvh), 0.0f);
  std::vector<float> dkr_h(size_t(rows.B * d.H * T * d.dr), 0.0f);  // per (b, h): [T, dr]
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int64_t b = 0; b < rows.B; ++b)
    for (int64_t h = 0; h < d.H; ++h)
      attend_backward(d, rows, b, h, ctx.softmax_scale, a, dattn.data(), dq.data(), dkvb.data(),
                      dkr_h.data() + (b * d.H + h) * T * d.dr);

  // Latent path: kv_b_proj, kv_a_layernorm, and the shared key's RoPE (summed over heads).
  std::vector<float> cos(size_t(T * half)), sin(size_t(T * half));
  for (int64_t t = 0; t < T; ++t) ctx.rope.angles(t, cos.data() + t * half, sin.data() + t * half);
  std::vector<float> dlatent(size_t(n * d.r)), dckv(size_t(n * d.r)), dkv(size_t(n * (d.r + d.dr)));
  linear_backward(dlatent.data(), g, dkvb.data(), a.latent.data(), n, w.kv_b_proj, p);
  rmsnorm_backward(dckv.data(), g.of(w.kv_a_layernorm), dlatent.data(), a.ckv.data(), w.kv_a_layernorm.data, n,
                   d.r, eps);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t b = i / T, t = i % T;
    std::memcpy(dkv.data() + i * (d.r + d.dr), dckv.data() + i * d.r, size_t(d.r) * 4);
    float* dk = dkv.data() + i * (d.r + d.dr) + d.r;
    std::memset(dk, 0, size_t(d.dr) * 4);
    for (int64_t h = 0; h < d.H; ++h) add_inplace(dk, dkr_h.data() + ((b * d.H + h) * T + t) * d.dr, d.dr);
    ctx.rope.rotate_back(dk, cos.data() + t * half, sin.data() + t * half);
    for (int64_t h = 0; h < d.H; ++h)
      ctx.rope.rotate_back(dq.data() + (i * d.H + h) * d.qk + d.dn, cos.data() + t * half, sin.data() + t * half);
  }
  linear_backward(dx, g, dkv.data(), x, n, w.kv_a_proj_with_mqa, p);

  // Query path.
  std::vector<float> dxq(size_t(n * ctx.cfg.hidden_size));
  if (rq > 0) {
    std::vector<float> dcq(size_t(n * rq)), dcq_raw(size_t(n * rq));
    linear_backward(dcq.data(), g, dq.data(), a.cq.data(), n, w.q_b_proj, p);
    rmsnorm_backward(dcq_raw.data(), g.of(w.q_a_layernorm), dcq.data(), a.cq_raw.data(), w.q_a_layernorm.data, n, rq,
                     eps);
    linear_backward(dxq.data(), g, dcq_raw.data(), x, n, w.q_a_proj, p);
  } else {
    linear_backward(dxq.data(), g, dq.data(), x, n, w.q_proj, p);
  }
  add_inplace(dx, dxq.data(), n * ctx.cfg.hidden_size);
}

}  // namespace dsv3
