// DeepSeekMoE routing: which experts a token goes to, and with what weight.
//
//   s_i   = sigmoid(u·e_i)  (V3)  or  softmax_i(u·e)  (V2)          token-to-expert affinity
//   b_i   = e_score_correction_bias: added for *choosing* only. The bias steers load (auxiliary-
//           loss-free balancing) without changing how much an expert's output counts.
//   groups: experts split into n_group groups; keep the topk_group best groups, scored by the sum
//           of their top-2 biased affinities (noaux_tc) or their max (group_limited_greedy).
//   top-k of the biased affinities among the kept groups -> ids
//   g_i   = s_i (unbiased), / Σ_top-k s_j when norm_topk_prob, × routed_scaling_factor.
#pragma once
#include <cstdint>

#include "kernels/weight.h"
#include "model/config.h"

namespace dsv3 {

struct RouterParams {
  int64_t n_experts = 0, top_k = 0, n_group = 1, topk_group = 1;
  bool sigmoid = true;
  bool group_limited = false;  // choose groups first
  bool group_top2_sum = false; // group score = sum of its top-2 (noaux_tc), else max
  bool norm_topk_prob = true;
  float routed_scaling_factor = 1.0f;
};

RouterParams router_params(const ModelConfig& cfg);

// scores [n, E] = affinities of x [n, hidden] under gate [E, hidden].
void router_scores(float* scores, const float* x, int64_t n, const Weight& gate, const RouterParams& p);

// In place: gate logits u [n, E] -> affinities s = sigmoid(u) or softmax(u) (training computes
// the logits itself, at its own precision).
void router_affinities(float* scores, int64_t n, const RouterParams& p);

// For one token: ids [top_k] of the chosen experts and their gate weights [top_k].
// bias [E] may be null.
void route_token(const float* scores, const float* bias, const RouterParams& p, int32_t* ids, float* weights);

}  // namespace dsv3
