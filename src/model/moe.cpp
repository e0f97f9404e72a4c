#include "model/moe.h"

#include <cstring>

#include <omp.h>

#include "kernels/ops.h"
#include "kernels/precision_linear.h"

namespace dsv3 {

namespace {
// Average rows per expert from which experts run side by side (see moe_forward).
constexpr int64_t kMinRowsPerExpertSideBySide = 64;
}  // namespace

void mlp_forward(float* out, const float* x, int64_t n, const MlpWeights& w, Precision p, MlpActs* acts) {
  const int64_t inter = w.gate_proj.rows;
  MlpActs local;
  MlpActs& a = acts ? *acts : local;
  a.gate.resize(size_t(n * inter));
  a.up.resize(size_t(n * inter));
  a.act.resize(size_t(n * inter));
  linear_forward(a.gate.data(), x, n, w.gate_proj, p);
  linear_forward(a.up.data(), x, n, w.up_proj, p);
  swiglu(a.act.data(), a.gate.data(), a.up.data(), n * inter);
  linear_forward(out, a.act.data(), n, w.down_proj, p);
}

namespace {

// ids, gates [n, K] of every token: the router's choice (model/router.h).
void route(MoeActs& a, const float* x, int64_t n, const MoeWeights& w, const RouterParams& rp, Precision p) {
  const int64_t E = rp.n_experts, K = rp.top_k;
  a.scores.resize(size_t(n * E));
  a.ids.resize(size_t(n * K));
  a.gates.resize(size_t(n * K));
  linear_forward(a.scores.data(), x, n, w.gate, high_precision(p));
  router_affinities(a.scores.data(), n, rp);
  for (int64_t t = 0; t < n; ++t)
    route_token(a.scores.data() + t * E, w.e_score_correction_bias.data, rp, a.ids.data() + t * K,
                a.gates.data() + t * K);
}

}  // namespace

void moe_forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& rp, Precision p,
                 MoeActs* acts, ExpertLoad* load) {
  const int64_t H = w.gate.cols, E = rp.n_experts, K = rp.top_k;
  MoeActs local;
  MoeActs& a = acts ? *acts : local;
  route(a, x, n, w, rp, p);

  if (!w.shared_experts.empty()) mlp_forward(out, x, n, w.shared_experts, p, &a.shared);
  else std::memset(out, 0, size_t(n * H) * sizeof(float));

  // Gather each expert's tokens so its weights are read once per batch, not once per token.
  a.experts.resize(size_t(E));
  for (auto& e : a.experts) e.slots.clear();
  for (int64_t i = 0; i < n * K; ++i) a.experts[size_t(a.ids[size_t(i)])].slots.push_back(i);
  int64_t busy = 0;
  for (const auto& e : a.experts) busy += !e.slots.empty();
  if (load) {
    load->tokens_per_expert.assign(size_t(E), 0);
    for (int64_t e = 0; e < E; ++e) load->tokens_per_expert[size_t(e)] = int64_t(a.experts[size_t(e)].slots.size());
  }
  // Experts run side by side (each multiplying on one thread) when every thread gets one and
  // they hold training-sized batches; for decode and prompt-sized batches they run one after
  // another, each product splitting its own work across threads when large enough, since a
  // parallel region over small experts costs more in fork/join (and in waiting for a
  // descheduled thread on a loaded machine) than it saves. Either way each expert's arithmetic,
  // and so the result, is the same.
  // (An if() clause would not do: the products' own parallel regions, nested in even an
  // inactive one, would run on one thread.)
  const auto run_expert = [&](int64_t e) {
    ExpertActs& ex = a.experts[size_t(e)];
    const int64_t m = int64_t(ex.slots.size());
    if (m == 0) return;
    ex.x.resize(size_t(m * H));
    ex.y.resize(size_t(m * H));
    for (int64_t j = 0; j < m; ++j) std::memcpy(&ex.x[size_t(j * H)], x + (ex.slots[size_t(j)] / K) * H, size_t(H) * 4);
    mlp_forward(ex.y.data(), ex.x.data(), m, w.experts[size_t(e)], p, &ex.mlp);
  };
  if (busy >= omp_get_max_threads() && n * K >= kMinRowsPerExpertSideBySide * busy) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t e = 0; e < E; ++e) run_expert(e);
  } else {
    for (int64_t e = 0; e < E; ++e) run_expert(e);
  }
  for (int64_t e = 0; e < E; ++e) {
    const ExpertActs& ex = a.experts[size_t(e)];
    for (size_t j = 0; j < ex.slots.size(); ++j)
      axpy(out + (ex.slots[j] / K) * H, a.gates[size_t(ex.slots[j])], &ex.y[j * size_t(H)], H);
  }
}

}  // namespace dsv3
