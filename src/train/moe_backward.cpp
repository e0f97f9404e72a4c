#include "train/moe_backward.h"

#include <algorithm>
#include <cstring>

#include "kernels/ops.h"
#include "kernels/precision_linear.h"
#include "train/weight_grad.h"
#include "train/ops_backward.h"

namespace dsv3 {

void mlp_backward(float* dx, const float* dout, const float* x, int64_t n, const MlpWeights& w, Precision p,
                  const MlpActs& a, const GradSink& g) {
  const int64_t inter = w.gate_proj.rows, H = w.gate_proj.cols;
  std::vector<float> dact(size_t(n * inter)), dgate(size_t(n * inter)), dup(size_t(n * inter)), dx2(size_t(n * H));
  linear_backward(dact.data(), g, dout, a.act.data(), n, w.down_proj, p);
  swiglu_backward(dgate.data(), dup.data(), dact.data(), a.gate.data(), a.up.data(), n * inter);
  linear_backward(dx, g, dgate.data(), x, n, w.gate_proj, p);
  linear_backward(dx2.data(), g, dup.data(), x, n, w.up_proj, p);
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
void balance_backward(float* ds, const MoeActs& a, const float* f_all, const Rows& rows, int64_t E, float coef) {
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < rows.n(); ++t) {
    const float* s = a.scores.data() + t * E;
    const float* f = f_all + (t / rows.T) * E;
    double sum = 0.0, dot_ = 0.0;  // Σ_j s_j and Σ_i dŝ_i ŝ_i
    for (int64_t e = 0; e < E; ++e) sum += s[e];
    const float scale = coef / float(rows.T);
    for (int64_t e = 0; e < E; ++e) dot_ += double(scale * f[e]) * (s[e] / sum);
    for (int64_t e = 0; e < E; ++e) ds[t * E + e] += float((double(scale * f[e]) - dot_) / sum);
  }
}

}  // namespace

MoeBalance moe_balance(const MoeActs& a, const Rows& rows, const RouterParams& rp) {
  const int64_t E = rp.n_experts;
  MoeBalance out;
  out.f.resize(size_t(rows.B * E));
  for (int64_t b = 0; b < rows.B; ++b) out.balance += sequence_balance(a, rows, b, E, rp.top_k, out.f.data() + b * E);
  return out;
}

void moe_backward(float* dx, const float* dout, const float* x, const Rows& rows, const MoeWeights& w,
                  const RouterParams& rp, Precision p, float balance_coef, const MoeActs& a, const MoeBalance& bal,
                  const GradSink& g) {
  const int64_t n = rows.n(), H = w.gate.cols, E = rp.n_experts, K = rp.top_k;
  if (!w.shared_experts.empty()) mlp_backward(dx, dout, x, n, w.shared_experts, p, a.shared, g);
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
    mlp_backward(dxe[size_t(e)].data(), dy.data(), ex.x.data(), m, w.experts[size_t(e)], p, ex.mlp, g);
  }
  for (int64_t e = 0; e < E; ++e) {
    const ExpertActs& ex = a.experts[size_t(e)];
    for (size_t j = 0; j < ex.slots.size(); ++j) add_inplace(dx + (ex.slots[j] / K) * H, &dxe[size_t(e)][j * size_t(H)], H);
  }
  moe_router_backward(dx, dgates.data(), x, rows, w, rp, p, balance_coef, a, bal, g);
}

void moe_router_backward(float* dx, const float* dgates, const float* x, const Rows& rows, const MoeWeights& w,
                         const RouterParams& rp, Precision p, float balance_coef, const MoeActs& a,
                         const MoeBalance& bal, const GradSink& g) {
  const int64_t n = rows.n(), H = w.gate.cols, E = rp.n_experts, K = rp.top_k;
  // Router: gates g_k = c · s_k (/ Σ_top-k s when normalized) -> ds, plus the balance loss.
  std::vector<float> ds(size_t(n * E), 0.0f);
  const float c = rp.routed_scaling_factor;
  for (int64_t t = 0; t < n; ++t) {
    const int32_t* id = a.ids.data() + t * K;
    const float* s = a.scores.data() + t * E;
    const float* dg = dgates + t * K;
    if (!rp.norm_topk_prob) {
      for (int64_t k = 0; k < K; ++k) ds[size_t(t * E + id[k])] += c * dg[k];
      continue;
    }
    double S = 0.0, dgs = 0.0;
    for (int64_t k = 0; k < K; ++k) S += s[id[k]];
    for (int64_t k = 0; k < K; ++k) dgs += double(dg[k]) * s[id[k]] / S;
    for (int64_t k = 0; k < K; ++k) ds[size_t(t * E + id[k])] += float(c / S * (dg[k] - dgs));
  }
  if (balance_coef != 0.0f) balance_backward(ds.data(), a, bal.f.data(), rows, E, balance_coef);
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
  linear_backward(dxr.data(), g, ds.data(), x, n, w.gate, high_precision(p));
  add_inplace(dx, dxr.data(), n * H);
}

}  // namespace dsv3
