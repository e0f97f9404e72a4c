#include "model/moe.h"

#include <cstring>

#include "kernels/linear.h"
#include "kernels/ops.h"
#include "kernels/profile.h"

namespace dsv3 {

namespace {

// Growing scratch reused across calls (a decode step runs moe_forward once per layer; fresh
// vectors would cost page faults every time).
float* scratch(std::vector<float>& v, int64_t n) {
  if (int64_t(v.size()) < n) v.resize(size_t(n));
  return v.data();
}

}  // namespace

void mlp_forward(float* out, const float* x, int64_t n, const MlpWeights& w) {
  const int64_t inter = w.gate_proj.rows;
  thread_local std::vector<float> gate_buf, up_buf;
  float* gate = scratch(gate_buf, n * inter);
  float* up = scratch(up_buf, n * inter);
  const LinearJob gate_up[] = {{gate, x, n, w.gate_proj}, {up, x, n, w.up_proj}};
  linear_batch(gate_up, 2);
  swiglu(gate, gate, up, n * inter);
  linear(out, gate, n, w.down_proj);
}

void moe_forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& p,
                 ExpertLoad* load) {
  const int64_t H = w.gate.cols, E = p.n_experts, K = p.top_k;
  std::vector<float> scores(size_t(n * E)), weights(size_t(n * K));
  std::vector<int32_t> ids(size_t(n * K));
  router_scores(scores.data(), x, n, w.gate, p);
  const float* bias = w.e_score_correction_bias.data;
  for (int64_t t = 0; t < n; ++t)
    route_token(scores.data() + t * E, bias, p, ids.data() + t * K, weights.data() + t * K);

  // Gather each expert's tokens so its weights are read once per batch, not once per token:
  // rows [first[e], first[e] + count[e]) of xe are expert e's.
  std::vector<int64_t> count(size_t(E), 0), first(size_t(E), 0), slot(size_t(n * K)), owner(size_t(n * K));
  for (int64_t i = 0; i < n * K; ++i) ++count[size_t(ids[size_t(i)])];
  for (int64_t e = 1; e < E; ++e) first[size_t(e)] = first[size_t(e - 1)] + count[size_t(e - 1)];
  if (load) load->tokens_per_expert = count;
  {
    std::vector<int64_t> fill = first;
    for (int64_t i = 0; i < n * K; ++i) {
      slot[size_t(i)] = fill[size_t(ids[size_t(i)])]++;
      owner[size_t(slot[size_t(i)])] = i;
    }
  }
  const int64_t I = w.experts.empty() ? 0 : w.experts[0].gate_proj.rows;
  const bool shared = !w.shared_experts.empty();
  const int64_t Is = shared ? w.shared_experts.gate_proj.rows : 0;
  thread_local std::vector<float> xe_buf, gate_buf, up_buf, ye_buf, sg_buf, su_buf;
  float* xe = scratch(xe_buf, n * K * H);
  float* gate = scratch(gate_buf, n * K * I);
  float* up = scratch(up_buf, n * K * I);
  float* ye = scratch(ye_buf, n * K * H);
  float* sgate = scratch(sg_buf, n * Is);
  float* sup = scratch(su_buf, n * Is);
  for (int64_t i = 0; i < n * K; ++i) std::memcpy(xe + slot[size_t(i)] * H, x + (i / K) * H, size_t(H) * 4);

  const profile::Scope prof("moe.experts");  // the rest of "moe" is routing
  // All gate and up products of the step (chosen experts + shared) in one pass over the
  // threads, then all down products in another.
  thread_local std::vector<LinearJob> jobs;
  jobs.clear();
  if (shared) {
    jobs.push_back({sgate, x, n, w.shared_experts.gate_proj});
    jobs.push_back({sup, x, n, w.shared_experts.up_proj});
  }
  for (int64_t e = 0; e < E; ++e) {
    const int64_t m = count[size_t(e)], f = first[size_t(e)];
    if (m == 0) continue;
    jobs.push_back({gate + f * I, xe + f * H, m, w.experts[size_t(e)].gate_proj});
    jobs.push_back({up + f * I, xe + f * H, m, w.experts[size_t(e)].up_proj});
  }
  linear_batch(jobs.data(), jobs.size());
  swiglu(gate, gate, up, n * K * I);
  if (shared) swiglu(sgate, sgate, sup, n * Is);

  jobs.clear();
  if (shared) jobs.push_back({out, sgate, n, w.shared_experts.down_proj});
  for (int64_t e = 0; e < E; ++e) {
    const int64_t m = count[size_t(e)], f = first[size_t(e)];
    if (m > 0) jobs.push_back({ye + f * H, gate + f * I, m, w.experts[size_t(e)].down_proj});
  }
  linear_batch(jobs.data(), jobs.size());
  if (!shared) std::memset(out, 0, size_t(n * H) * sizeof(float));
  for (int64_t s = 0; s < n * K; ++s) {  // by expert, as each token's sum has always been ordered
    const int64_t i = owner[size_t(s)];
    axpy(out + (i / K) * H, weights[size_t(i)], ye + s * H, H);
  }
}

}  // namespace dsv3
