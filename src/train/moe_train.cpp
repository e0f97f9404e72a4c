#include "train/moe_train.h"

#include <cstring>

#include "kernels/ops.h"
#include "model/router.h"
#include "train/ops_backward.h"
#include "train/tlinear.h"

namespace dsv3 {

void mlp_train_forward(float* out, const float* x, int64_t n, const MlpWeights& w, Precision p, MlpActs& a) {
  const int64_t inter = w.gate_proj.rows;
  a.gate.resize(size_t(n * inter));
  a.up.resize(size_t(n * inter));
  a.act.resize(size_t(n * inter));
  tlinear_forward(a.gate.data(), x, n, w.gate_proj, p);
  tlinear_forward(a.up.data(), x, n, w.up_proj, p);
  swiglu(a.act.data(), a.gate.data(), a.up.data(), n * inter);
  tlinear_forward(out, a.act.data(), n, w.down_proj, p);
}

void mlp_train_backward(float* dx, const float* dout, const float* x, int64_t n, const MlpWeights& w, Precision p,
                        const MlpActs& a, const GradSink& g) {
  const int64_t inter = w.gate_proj.rows, H = w.gate_proj.cols;
  std::vector<float> dact(size_t(n * inter)), dgate(size_t(n * inter)), dup(size_t(n * inter)), dx2(size_t(n * H));
  tlinear_backward(dact.data(), g.of(w.down_proj), dout, a.act.data(), n, w.down_proj, p);
  swiglu_backward(dgate.data(), dup.data(), dact.data(), a.gate.data(), a.up.data(), n * inter);
  tlinear_backward(dx, g.of(w.gate_proj), dgate.data(), x, n, w.gate_proj, p);
  tlinear_backward(dx2.data(), g.of(w.up_proj), dup.data(), x, n, w.up_proj, p);
  add_inplace(dx, dx2.data(), n * H);
}

namespace {

// f [E] and Σ_i f_i P_i of sequence b (its T rows).
double sequence_balance(const MoeActs& a, const Rows& rows, int64_t b, int64_t E, int64_t K, float* f) {
  const int64_t T = rows.T;
  std::vector<double> P(size_t(E), 0.0);
  std::fill(f, f + E, 0.0f);
  for (int64_t t = b * T; t < (b + 1) * T; ++t) {
    for (int64_t k = 0; k < K; ++k) f[a.ids[size_t(t * K + k)]] += 1.0f;
    const float* s = a.scores.data() + t * E;
    double sum = 0.0;
    for (int64_t e = 0; e < E; ++e) sum += s[e];
    for (int64_t e = 0; e < E; ++e) P[size_t(e)] += s[e] / sum;
  }
  double bal = 0.0;
  for (int64_t e = 0; e < E; ++e) {
    f[e] *= float(E) / float(K * T);
    bal += double(f[e]) * P[size_t(e)] / double(T);
  }
  return bal;
}

// ds [n, E] += the gradient of the per-sequence balance terms coef · Σ_i f_i P_i.
void balance_backward(float* ds, const MoeActs& a, const Rows& rows, int64_t E, float coef) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < rows.n(); ++t) {
    const float* s = a.scores.data() + t * E;
    const float* f = a.f.data() + (t / rows.T) * E;
    double sum = 0.0, dot_ = 0.0;  // Σ_j s_j and Σ_i dŝ_i ŝ_i
    for (int64_t e = 0; e < E; ++e) sum += s[e];
    const float scale = coef / float(rows.T);
    for (int64_t e = 0; e < E; ++e) dot_ += double(scale * f[e]) * (s[e] / sum);
    for (int64_t e = 0; e < E; ++e) ds[t * E + e] += float((double(scale * f[e]) - dot_) / sum);
  }
}

}  // namespace

void moe_train_forward(float* out, const float* x, const Rows& rows, const MoeWeights& w, const TrainContext& ctx,
                       MoeActs& a) {
  const RouterParams& rp = ctx.router;
  const int64_t n = rows.n(), H = w.gate.cols, E = rp.n_experts, K = rp.top_k;
  a.scores.resize(size_t(n * E));
  a.ids.resize(size_t(n * K));
  a.gates.resize(size_t(n * K));
  tlinear_forward(a.scores.data(), x, n, w.gate, high_precision(ctx.precision));
  router_affinities(a.scores.data(), n, rp);
  for (int64_t t = 0; t < n; ++t)
    route_token(a.scores.data() + t * E, w.e_score_correction_bias.data, rp, a.ids.data() + t * K, a.gates.data() + t * K);

  a.f.resize(size_t(rows.B * E));
  a.balance = 0.0;
  for (int64_t b = 0; b < rows.B; ++b) a.balance += sequence_balance(a, rows, b, E, K, a.f.data() + b * E);

  if (!w.shared_experts.empty()) mlp_train_forward(out, x, n, w.shared_experts, ctx.precision, a.shared);
  else std::memset(out, 0, size_t(n * H) * sizeof(float));

  a.experts.resize(size_t(E));
  a.load.assign(size_t(E), 0);
  for (auto& e : a.experts) e.slots.clear();
  for (int64_t i = 0; i < n * K; ++i) a.experts[size_t(a.ids[size_t(i)])].slots.push_back(i);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t e = 0; e < E; ++e) {
    ExpertActs& ex = a.experts[size_t(e)];
    const int64_t m = int64_t(ex.slots.size());
    ex.x.resize(size_t(m * H));
    ex.y.resize(size_t(m * H));
    for (int64_t j = 0; j < m; ++j) std::memcpy(&ex.x[size_t(j * H)], x + (ex.slots[size_t(j)] / K) * H, size_t(H) * 4);
    if (m > 0) mlp_train_forward(ex.y.data(), ex.x.data(), m, w.experts[size_t(e)], ctx.precision, ex.mlp);
  }
  for (int64_t e = 0; e < E; ++e) {
    const ExpertActs& ex = a.experts[size_t(e)];
    a.load[size_t(e)] = int64_t(ex.slots.size());
    for (size_t j = 0; j < ex.slots.size(); ++j)
      axpy(out + (ex.slots[j] / K) * H, a.gates[size_t(ex.slots[j])], &ex.y[j * size_t(H)], H);
  }
}

void moe_train_backward(float* dx, const float* dout, const float* x, const Rows& rows, const MoeWeights& w,
                        const TrainContext& ctx, float balance_coef, const MoeActs& a, const GradSink& g) {
  const RouterParams& rp = ctx.router;
  const int64_t n = rows.n(), H = w.gate.cols, E = rp.n_experts, K = rp.top_k;
  if (!w.shared_experts.empty()) mlp_train_backward(dx, dout, x, n, w.shared_experts, ctx.precision, a.shared, g);
  else std::memset(dx, 0, size_t(n * H) * sizeof(float));

  // Experts: dy = g · dout for each routed copy; dg = dout · y.
  std::vector<float> dgates(size_t(n * K), 0.0f);
  std::vector<std::vector<float>> dxe(static_cast<size_t>(E));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t e = 0; e < E; ++e) {
    const ExpertActs& ex = a.experts[size_t(e)];
    const int64_t m = int64_t(ex.slots.size());
    if (m == 0) continue;
    std::vector<float> dy(size_t(m * H));
    for (int64_t j = 0; j < m; ++j) {
      const int64_t slot = ex.slots[size_t(j)];
      const float* d = dout + (slot / K) * H;
      dgates[size_t(slot)] = dot(d, &ex.y[size_t(j * H)], H);
      for (int64_t c = 0; c < H; ++c) dy[size_t(j * H + c)] = a.gates[size_t(slot)] * d[c];
    }
    dxe[size_t(e)].resize(size_t(m * H));
    mlp_train_backward(dxe[size_t(e)].data(), dy.data(), ex.x.data(), m, w.experts[size_t(e)], ctx.precision, ex.mlp, g);
  }
  for (int64_t e = 0; e < E; ++e) {
    const ExpertActs& ex = a.experts[size_t(e)];
    for (size_t j = 0; j < ex.slots.size(); ++j) add_inplace(dx + (ex.slots[j] / K) * H, &dxe[size_t(e)][j * size_t(H)], H);
  }

  // Router: gates g_k = c · s_k (/ Σ_top-k s when normalized) -> ds, plus the balance loss.
  std::vector<float> ds(size_t(n * E), 0.0f);
  const float c = rp.routed_scaling_factor;
  for (int64_t t = 0; t < n; ++t) {
    const int32_t* id = a.ids.data() + t * K;
    const float* s = a.scores.data() + t * E;
    const float* dg = dgates.data() + t * K;
    if (!rp.norm_topk_prob) {
      for (int64_t k = 0; k < K; ++k) ds[size_t(t * E + id[k])] += c * dg[k];
      continue;
    }
    double S = 0.0, dgs = 0.0;
    for (int64_t k = 0; k < K; ++k) S += s[id[k]];
    for (int64_t k = 0; k < K; ++k) dgs += double(dg[k]) * s[id[k]] / S;
    for (int64_t k = 0; k < K; ++k) ds[size_t(t * E + id[k])] += float(c / S * (dg[k] - dgs));
  }
  if (balance_coef != 0.0f) balance_backward(ds.data(), a, rows, E, balance_coef);
  // Through the score function to the gate logits u.
  for (int64_t t = 0; t < n; ++t) {
    const float* s = a.scores.data() + t * E;
    float* d = ds.data() + t * E;
    if (rp.sigmoid) {
      for (int64_t e = 0; e < E; ++e) d[e] *= s[e] * (1.0f - s[e]);
    } else {
      double sd = 0.0;
      for (int64_t e = 0; e < E; ++e) sd += double(s[e]) * d[e];
      for (int64_t e = 0; e < E; ++e) d[e] = s[e] * (d[e] - float(sd));
    }
  }
  std::vector<float> dxr(size_t(n * H));
  tlinear_backward(dxr.data(), g.of(w.gate), ds.data(), x, n, w.gate, high_precision(ctx.precision));
  add_inplace(dx, dxr.data(), n * H);
}

}  // namespace dsv3
