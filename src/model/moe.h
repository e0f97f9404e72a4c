// The feed-forward networks: a dense SwiGLU MLP, and DeepSeekMoE (routed experts chosen by the
// router, plus shared experts every token passes through). Each forward optionally records the
// activations its backward (train/moe_backward.h) needs, at a precision mode (float32 for
// inference; training's BF16/FP8 emulation).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/precision.h"
#include "model/router.h"
#include "model/weights.h"

namespace dsv3 {

struct MlpActs {
  std::vector<float> gate, up, act;  // [n, inter] each: gate_proj(x), up_proj(x), silu(gate)·up
};

// out [n, hidden] = down(silu(gate(x)) * up(x)),  x [n, hidden]
void mlp_forward(float* out, const float* x, int64_t n, const MlpWeights& w, Precision p = Precision::kF32,
                 MlpActs* a = nullptr);

// Per-layer routing counts, kept when the caller wants load statistics.
struct ExpertLoad {
  std::vector<int64_t> tokens_per_expert;
};

struct ExpertActs {
  std::vector<int64_t> slots;  // routing entries t·K + k sent to this expert, in token order
  std::vector<float> x, y;     // [m, hidden] gathered inputs and the expert's outputs
  MlpActs mlp;
};

struct MoeActs {
  std::vector<float> scores;     // [n, E] affinities s
  std::vector<int32_t> ids;      // [n, K] chosen experts
  std::vector<float> gates;      // [n, K] their gate values g
  std::vector<ExpertActs> experts;
  MlpActs shared;
};

// a.scores, a.ids, a.gates of n tokens: the router's choice (model/router.h), the gate's product
// at high_precision(p). The first step of moe_forward; expert-parallel training reuses it.
void moe_route(MoeActs& a, const float* x, int64_t n, const MoeWeights& w, const RouterParams& rp, Precision p);

// out [n, hidden] = Σ_k g_k · expert_{id_k}(x) + shared_experts(x),  x [n, hidden]. The router
// gate multiplies at high_precision(p) (DeepSeek-V3 keeps it out of FP8). No token is dropped:
// every expert takes all the tokens routed to it.
void moe_forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& rp,
                 Precision p = Precision::kF32, MoeActs* a = nullptr, ExpertLoad* load = nullptr);

}  // namespace dsv3
