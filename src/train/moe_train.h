// The feed-forward networks in training: the dense SwiGLU MLP, and DeepSeekMoE with its router
// differentiated through the selected, normalized, scaled affinities, plus the complementary
// sequence-wise balance loss (DeepSeek-V3 report eqs. 17-20):
//
//   L_bal = α Σ_i f_i P_i  per sequence,  f_i = N_r / (K_r T) · #(tokens of the sequence routed to i),
//   P_i = (1/T) Σ_t s_{i,t} / Σ_j s_{j,t}   (unbiased affinities; f is a constant)
//
// Routing itself (biased, group-limited top-k) is model/router.h's route_token, as in inference.
// No token is dropped: every expert takes all the tokens routed to it.
#pragma once
#include <cstdint>
#include <vector>

#include "model/weights.h"
#include "train/train_context.h"

namespace dsv3 {

struct MlpActs {
  std::vector<float> gate, up, act;  // [n, inter] each: gate_proj(x), up_proj(x), silu(gate)·up
};

// out [n, hidden] = down(silu(gate(x)) · up(x))
void mlp_train_forward(float* out, const float* x, int64_t n, const MlpWeights& w, Precision p, MlpActs& a);
// dx [n, hidden] (overwritten)
void mlp_train_backward(float* dx, const float* dout, const float* x, int64_t n, const MlpWeights& w, Precision p,
                        const MlpActs& a, const GradSink& g);

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
  std::vector<float> f;          // [B, E] the balance loss's f_i of each sequence
  std::vector<int64_t> load;     // [E] tokens routed to each expert
  double balance = 0.0;          // Σ over sequences of Σ_i f_i P_i (times α: the caller's)
};

// out [n, hidden] from x [n, hidden] (already post_attention_layernorm-ed).
void moe_train_forward(float* out, const float* x, const Rows& rows, const MoeWeights& w, const TrainContext& ctx,
                       MoeActs& a);

// dx [n, hidden] (overwritten). balance_coef: dL/d(Σ_i f_i P_i) of each sequence (α / #sequences).
void moe_train_backward(float* dx, const float* dout, const float* x, const Rows& rows, const MoeWeights& w,
                        const TrainContext& ctx, float balance_coef, const MoeActs& a, const GradSink& g);

}  // namespace dsv3
