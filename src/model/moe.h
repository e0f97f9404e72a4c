// The feed-forward networks: a dense SwiGLU MLP, and DeepSeekMoE (routed experts chosen by the
// router, plus shared experts every token passes through).
#pragma once
#include <cstdint>
#include <vector>

#include "model/router.h"
#include "model/weights.h"

namespace dsv3 {

// out [n, hidden] = down(silu(gate(x)) * up(x)),  x [n, hidden]
void mlp_forward(float* out, const float* x, int64_t n, const MlpWeights& w);

// Per-layer routing counts, kept when the caller wants load statistics.
struct ExpertLoad {
  std::vector<int64_t> tokens_per_expert;
};

// out [n, hidden] = Σ_k g_k · expert_{id_k}(x) + shared_experts(x)
void moe_forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& p,
                 ExpertLoad* load = nullptr);

}  // namespace dsv3
