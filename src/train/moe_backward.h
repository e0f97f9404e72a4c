// The backward of model/moe.h's feed-forward networks (the llm.c pairs mlp_forward/mlp_backward,
// moe_forward/moe_backward): the dense SwiGLU MLP, and DeepSeekMoE with its router
// differentiated through the selected, normalized, scaled affinities, plus the complementary
// sequence-wise balance loss (DeepSeek-V3 report eqs. 17-20):
//
//   L_bal = α Σ_i f_i P_i  per sequence,  f_i = N_r / (K_r T) · #(tokens of the sequence routed to i),
//   P_i = (1/T) Σ_t s_{i,t} / Σ_j s_{j,t}   (unbiased affinities; f is a constant)
//
// Routing itself (biased, group-limited top-k) is piecewise constant: model/router.h's
// route_token, as in inference.
#pragma once
#include <cstdint>
#include <vector>

#include "model/block.h"
#include "train/params.h"

namespace dsv3 {

// dx [n, hidden] (overwritten); x is the forward's input.
void mlp_backward(float* dx, const float* dout, const float* x, int64_t n, const MlpWeights& w, Precision p,
                  const MlpActs& a, const GradSink& g);

// The balance loss's terms of one MoE layer's forward.
struct MoeBalance {
  std::vector<float> f;  // [B, E] f_i of each sequence
  double balance = 0.0;  // Σ over sequences of Σ_i f_i P_i (times α: the caller's)
};
MoeBalance moe_balance(const MoeActs& a, const Rows& rows, const RouterParams& rp);

// dx [n, hidden] (overwritten). balance_coef: dL/d(Σ_i f_i P_i) of each sequence (α / #sequences).
void moe_backward(float* dx, const float* dout, const float* x, const Rows& rows, const MoeWeights& w,
                  const RouterParams& rp, Precision p, float balance_coef, const MoeActs& a, const MoeBalance& bal,
                  const GradSink& g);

// The router's part of moe_backward: dx [n, hidden] += the gradient through the gate logits,
// given dgates [n, K] = dL/dg of every routing entry, with the balance loss's. Expert-parallel
// training (train/moe_parallel.h) computes dgates on the experts' owners and calls this.
void moe_router_backward(float* dx, const float* dgates, const float* x, const Rows& rows, const MoeWeights& w,
                         const RouterParams& rp, Precision p, float balance_coef, const MoeActs& a,
                         const MoeBalance& bal, const GradSink& g);

}  // namespace dsv3
