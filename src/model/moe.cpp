#include "model/moe.h"

#include <cstring>

#include <omp.h>

#include "kernels/linear.h"
#include "kernels/ops.h"
#include "kernels/precision_linear.h"
#include "kernels/profile.h"

namespace dsv3 {

namespace {

// Average rows per expert from which experts run side by side (see moe_forward).
constexpr int64_t kMinRowsPerExpertSideBySide = 64;

// One SwiGLU MLP of a batch of them: out [n, hidden] = down(silu(gate(x)) * up(x)).
struct MlpJob {
  float* out;
  const float* x;
  int64_t n;
  const MlpWeights* w;
  MlpActs* a;
};

// Runs every job. In float32 all gate and up products go through the threads in one pass and
// all down products in another (kernels/linear.h's linear_batch, bit-identical to one linear()
// each): a decode step's 8 small experts and the shared one then cost two parallel regions,
// not 24. The emulated precisions round each product's operands first, one product at a time.
void mlp_forward_jobs(const MlpJob* jobs, size_t count, Precision p) {
  for (size_t j = 0; j < count; ++j) {
    MlpActs& a = *jobs[j].a;
    const size_t len = size_t(jobs[j].n * jobs[j].w->gate_proj.rows);
    a.gate.resize(len);
    a.up.resize(len);
    a.act.resize(len);
  }
  if (p != Precision::kF32) {
    for (size_t j = 0; j < count; ++j) {
      const MlpJob& job = jobs[j];
      linear_forward(job.a->gate.data(), job.x, job.n, job.w->gate_proj, p);
      linear_forward(job.a->up.data(), job.x, job.n, job.w->up_proj, p);
      swiglu(job.a->act.data(), job.a->gate.data(), job.a->up.data(), int64_t(job.a->act.size()));
      linear_forward(job.out, job.a->act.data(), job.n, job.w->down_proj, p);
    }
    return;
  }
  thread_local std::vector<LinearJob> products;
  products.clear();
  for (size_t j = 0; j < count; ++j) {
    const MlpJob& job = jobs[j];
    products.push_back({job.a->gate.data(), job.x, job.n, job.w->gate_proj});
    products.push_back({job.a->up.data(), job.x, job.n, job.w->up_proj});
  }
  linear_batch(products.data(), products.size());
  for (size_t j = 0; j < count; ++j)
    swiglu(jobs[j].a->act.data(), jobs[j].a->gate.data(), jobs[j].a->up.data(), int64_t(jobs[j].a->act.size()));
  products.clear();
  for (size_t j = 0; j < count; ++j)
    products.push_back({jobs[j].out, jobs[j].a->act.data(), jobs[j].n, jobs[j].w->down_proj});
  linear_batch(products.data(), products.size());
}

}  // namespace

void moe_route(MoeActs& a, const float* x, int64_t n, const MoeWeights& w, const RouterParams& rp, Precision p) {
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

namespace {

// The rows of x routed to one expert, gathered in token order, and room for its outputs.
void gather_expert_rows(ExpertActs& ex, const float* x, int64_t H, int64_t K) {
  const int64_t m = int64_t(ex.slots.size());
  ex.x.resize(size_t(m * H));
  ex.y.resize(size_t(m * H));
  for (int64_t j = 0; j < m; ++j) std::memcpy(&ex.x[size_t(j * H)], x + (ex.slots[size_t(j)] / K) * H, size_t(H) * 4);
}

// Whether the expert takes rows 0..n-1 of x in order (every expert a decode step routes to).
bool takes_every_row(const ExpertActs& ex, int64_t n, int64_t K) {
  if (int64_t(ex.slots.size()) != n) return false;
  for (int64_t j = 0; j < n; ++j)
    if (ex.slots[size_t(j)] / K != j) return false;
  return true;
}

}  // namespace

void mlp_forward(float* out, const float* x, int64_t n, const MlpWeights& w, Precision p, MlpActs* acts) {
  thread_local MlpActs local;  // reused: a decode step would otherwise allocate per layer
  const MlpJob job{out, x, n, &w, acts ? acts : &local};
  mlp_forward_jobs(&job, 1, p);
}

void moe_forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& rp, Precision p,
                 MoeActs* acts, ExpertLoad* load) {
  const int64_t H = w.gate.cols, E = rp.n_experts, K = rp.top_k;
  thread_local MoeActs local;  // reused across calls, as in mlp_forward
  MoeActs& a = acts ? *acts : local;
  moe_route(a, x, n, w, rp, p);

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
  const profile::Scope prof("moe.experts");  // the rest of "moe" is routing
  const bool shared = !w.shared_experts.empty();
  if (!shared) std::memset(out, 0, size_t(n * H) * sizeof(float));
  // Experts run side by side (each multiplying on one thread) when every thread gets one and
  // they hold training-sized batches; for decode and prompt-sized batches all experts' products
  // share the threads (mlp_forward_jobs), since a parallel region per small expert costs more
  // in fork/join (and in waiting for a descheduled thread on a loaded machine) than it saves.
  // Either way each expert's arithmetic, and so the result, is the same.
  // (An if() clause would not do: the products' own parallel regions, nested in even an
  // inactive one, would run on one thread.)
  if (busy >= omp_get_max_threads() && n * K >= kMinRowsPerExpertSideBySide * busy) {
    if (shared) mlp_forward(out, x, n, w.shared_experts, p, &a.shared);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t e = 0; e < E; ++e) {
      ExpertActs& ex = a.experts[size_t(e)];
      if (ex.slots.empty()) continue;
      gather_expert_rows(ex, x, H, K);
      mlp_forward(ex.y.data(), ex.x.data(), int64_t(ex.slots.size()), w.experts[size_t(e)], p, &ex.mlp);
    }
  } else {
    thread_local std::vector<MlpJob> jobs;
    jobs.clear();
    if (shared) jobs.push_back({out, x, n, &w.shared_experts, &a.shared});
    for (int64_t e = 0; e < E; ++e) {
      ExpertActs& ex = a.experts[size_t(e)];
      if (ex.slots.empty()) continue;
      // Without a backward to feed, an expert taking every row reads x itself: no copy, and the
      // INT8/INT4 kernels quantize that one input once for all experts (linear_batch).
      const float* ex_x = x;
      if (acts || !takes_every_row(ex, n, K)) {
        gather_expert_rows(ex, x, H, K);
        ex_x = ex.x.data();
      } else {
        ex.y.resize(size_t(n * H));
      }
      jobs.push_back({ex.y.data(), ex_x, int64_t(ex.slots.size()), &w.experts[size_t(e)], &ex.mlp});
    }
    mlp_forward_jobs(jobs.data(), jobs.size(), p);
  }
  for (int64_t e = 0; e < E; ++e) {  // by expert, as each token's sum has always been ordered
    const ExpertActs& ex = a.experts[size_t(e)];
    for (size_t j = 0; j < ex.slots.size(); ++j)
      axpy(out + (ex.slots[j] / K) * H, a.gates[size_t(ex.slots[j])], &ex.y[j * size_t(H)], H);
  }
}

}  // namespace dsv3
