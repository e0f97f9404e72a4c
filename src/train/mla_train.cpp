#include "train/mla_train.h"

#include <cstring>

#include "kernels/ops.h"
#include "train/ops_backward.h"
#include "train/tlinear.h"

namespace dsv3 {

namespace {

struct Dims {
  int64_t H, dn, dr, dv, r, qk, kvh;
  explicit Dims(const ModelConfig& c)
      : H(c.num_attention_heads), dn(c.qk_nope_head_dim), dr(c.qk_rope_head_dim), dv(c.v_head_dim),
        r(c.kv_lora_rank), qk(c.qk_nope_head_dim + c.qk_rope_head_dim), kvh(c.qk_nope_head_dim + c.v_head_dim) {}
};

// The causal attention of one (sequence b, head h): probs [T, T] and attn's head-h columns.
void attend(const Dims& d, const Rows& rows, int64_t b, int64_t h, float scale, MlaActs& a) {
  const int64_t T = rows.T;
  float* P = a.probs.data() + (b * d.H + h) * T * T;
  for (int64_t t = 0; t < T; ++t) {
    const float* q = a.q.data() + (b * T + t) * d.H * d.qk + h * d.qk;
    float* p = P + t * T;
    for (int64_t s = 0; s <= t; ++s) {
      const float* k = a.kvb.data() + (b * T + s) * d.H * d.kvh + h * d.kvh;
      p[s] = (dot(q, k, d.dn) + dot(q + d.dn, a.k_r.data() + (b * T + s) * d.dr, d.dr)) * scale;
    }
    softmax(p, t + 1);
    float* o = a.attn.data() + (b * T + t) * d.H * d.dv + h * d.dv;
    std::memset(o, 0, size_t(d.dv) * 4);
    for (int64_t s = 0; s <= t; ++s) axpy(o, p[s], a.kvb.data() + (b * T + s) * d.H * d.kvh + h * d.kvh + d.dn, d.dv);
  }
}

// Backward of attend: dq (head h columns), dkvb (head h columns), dk_r [T, dr] of this head.
void attend_backward(const Dims& d, const Rows& rows, int64_t b, int64_t h, float scale, const MlaActs& a,
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

void mla_train_forward(float* out, const float* x, const Rows& rows, const MlaWeights& w, const TrainContext& ctx,
                       MlaActs& a) {
  const Dims d(ctx.cfg);
  const int64_t n = rows.n(), rq = ctx.cfg.q_lora_rank;
  const Precision p = ctx.precision;
  a.q.resize(size_t(n * d.H * d.qk));
  if (rq > 0) {
    a.cq_raw.resize(size_t(n * rq));
    a.cq.resize(size_t(n * rq));
    tlinear_forward(a.cq_raw.data(), x, n, w.q_a_proj, p);
    rmsnorm(a.cq.data(), a.cq_raw.data(), w.q_a_layernorm.data, n, rq, ctx.eps);
    tlinear_forward(a.q.data(), a.cq.data(), n, w.q_b_proj, p);
  } else {
    tlinear_forward(a.q.data(), x, n, w.q_proj, p);
  }
  std::vector<float> kv(size_t(n * (d.r + d.dr)));
  tlinear_forward(kv.data(), x, n, w.kv_a_proj_with_mqa, p);
  a.ckv.resize(size_t(n * d.r));
  a.latent.resize(size_t(n * d.r));
  a.k_r.resize(size_t(n * d.dr));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = i % rows.T;
    std::memcpy(a.ckv.data() + i * d.r, kv.data() + i * (d.r + d.dr), size_t(d.r) * 4);
    std::memcpy(a.k_r.data() + i * d.dr, kv.data() + i * (d.r + d.dr) + d.r, size_t(d.dr) * 4);
    ctx.rope.rotate(a.k_r.data() + i * d.dr, ctx.cos_at(t), ctx.sin_at(t));
    for (int64_t h = 0; h < d.H; ++h) ctx.rope.rotate(a.q.data() + (i * d.H + h) * d.qk + d.dn, ctx.cos_at(t), ctx.sin_at(t));
  }
  rmsnorm(a.latent.data(), a.ckv.data(), w.kv_a_layernorm.data, n, d.r, ctx.eps);
  a.kvb.resize(size_t(n * d.H * d.kvh));
  tlinear_forward(a.kvb.data(), a.latent.data(), n, w.kv_b_proj, p);

  a.probs.resize(size_t(rows.B * d.H * rows.T * rows.T));  // only each row's columns 0..t are used
  a.attn.resize(size_t(n * d.H * d.dv));
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int64_t b = 0; b < rows.B; ++b)
    for (int64_t h = 0; h < d.H; ++h) attend(d, rows, b, h, ctx.softmax_scale, a);
  tlinear_forward(out, a.attn.data(), n, w.o_proj, p);
}

void mla_train_backward(float* dx, const float* dout, const float* x, const Rows& rows, const MlaWeights& w,
                        const TrainContext& ctx, const MlaActs& a, const GradSink& g) {
  const Dims d(ctx.cfg);
  const int64_t n = rows.n(), rq = ctx.cfg.q_lora_rank, T = rows.T;
  const Precision p = ctx.precision;
  std::vector<float> dattn(size_t(n * d.H * d.dv));
  tlinear_backward(dattn.data(), g.of(w.o_proj), dout, a.attn.data(), n, w.o_proj, p);

  std::vector<float> dq(size_t(n * d.H * d.qk), 0.0f), dkvb(size_t(n * d.H * d.kvh), 0.0f);
  std::vector<float> dkr_h(size_t(rows.B * d.H * T * d.dr), 0.0f);  // per (b, h): [T, dr]
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int64_t b = 0; b < rows.B; ++b)
    for (int64_t h = 0; h < d.H; ++h)
      attend_backward(d, rows, b, h, ctx.softmax_scale, a, dattn.data(), dq.data(), dkvb.data(),
                      dkr_h.data() + (b * d.H + h) * T * d.dr);

  // Latent path: kv_b_proj, kv_a_layernorm, and the shared key's RoPE (summed over heads).
  std::vector<float> dlatent(size_t(n * d.r)), dckv(size_t(n * d.r)), dkv(size_t(n * (d.r + d.dr)));
  tlinear_backward(dlatent.data(), g.of(w.kv_b_proj), dkvb.data(), a.latent.data(), n, w.kv_b_proj, p);
  rmsnorm_backward(dckv.data(), g.of(w.kv_a_layernorm), dlatent.data(), a.ckv.data(), w.kv_a_layernorm.data, n,
                   d.r, ctx.eps);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t b = i / T, t = i % T;
    std::memcpy(dkv.data() + i * (d.r + d.dr), dckv.data() + i * d.r, size_t(d.r) * 4);
    float* dk = dkv.data() + i * (d.r + d.dr) + d.r;
    std::memset(dk, 0, size_t(d.dr) * 4);
    for (int64_t h = 0; h < d.H; ++h) add_inplace(dk, dkr_h.data() + ((b * d.H + h) * T + t) * d.dr, d.dr);
    ctx.rope.rotate_back(dk, ctx.cos_at(t), ctx.sin_at(t));
    for (int64_t h = 0; h < d.H; ++h) ctx.rope.rotate_back(dq.data() + (i * d.H + h) * d.qk + d.dn, ctx.cos_at(t), ctx.sin_at(t));
  }
  tlinear_backward(dx, g.of(w.kv_a_proj_with_mqa), dkv.data(), x, n, w.kv_a_proj_with_mqa, p);

  // Query path.
  std::vector<float> dxq(size_t(n * ctx.cfg.hidden_size));
  if (rq > 0) {
    std::vector<float> dcq(size_t(n * rq)), dcq_raw(size_t(n * rq));
    tlinear_backward(dcq.data(), g.of(w.q_b_proj), dq.data(), a.cq.data(), n, w.q_b_proj, p);
    rmsnorm_backward(dcq_raw.data(), g.of(w.q_a_layernorm), dcq.data(), a.cq_raw.data(), w.q_a_layernorm.data, n, rq,
                     ctx.eps);
    tlinear_backward(dxq.data(), g.of(w.q_a_proj), dcq_raw.data(), x, n, w.q_a_proj, p);
  } else {
    tlinear_backward(dxq.data(), g.of(w.q_proj), dq.data(), x, n, w.q_proj, p);
  }
  add_inplace(dx, dxq.data(), n * ctx.cfg.hidden_size);
}

}  // namespace dsv3
