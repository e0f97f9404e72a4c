#include "model/moe.h"

#include <cstring>

#include "kernels/linear.h"
#include "kernels/ops.h"

namespace dsv3 {

void mlp_forward(float* out, const float* x, int64_t n, const MlpWeights& w) {
  const int64_t inter = w.gate_proj.rows;
  std::vector<float> gate(size_t(n * inter)), up(size_t(n * inter));
  linear(gate.data(), x, n, w.gate_proj);
  linear(up.data(), x, n, w.up_proj);
  swiglu(gate.data(), gate.data(), up.data(), n * inter);
  linear(out, gate.data(), n, w.down_proj);
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

  if (!w.shared_experts.empty()) mlp_forward(out, x, n, w.shared_experts);
  else std::memset(out, 0, size_t(n * H) * sizeof(float));

  // Gather each expert's tokens so its weights are read once per batch, not once per token.
  std::vector<std::vector<int64_t>> slots(static_cast<size_t>(E));  // entries t·K + k
  for (int64_t i = 0; i < n * K; ++i) slots[size_t(ids[size_t(i)])].push_back(i);
  if (load) {
    load->tokens_per_expert.assign(size_t(E), 0);
    for (int64_t e = 0; e < E; ++e) load->tokens_per_expert[size_t(e)] = int64_t(slots[size_t(e)].size());
  }
  std::vector<float> xe, ye;
  for (int64_t e = 0; e < E; ++e) {
    const auto& s = slots[size_t(e)];
    const int64_t m = int64_t(s.size());
    if (m == 0) continue;
    xe.resize(size_t(m * H));
    ye.resize(size_t(m * H));
    for (int64_t j = 0; j < m; ++j) std::memcpy(&xe[size_t(j * H)], x + (s[size_t(j)] / K) * H, size_t(H) * 4);
    mlp_forward(ye.data(), xe.data(), m, w.experts[size_t(e)]);
    for (int64_t j = 0; j < m; ++j) axpy(out + (s[size_t(j)] / K) * H, weights[size_t(s[size_t(j)])], &ye[size_t(j * H)], H);
  }
}

}  // namespace dsv3
