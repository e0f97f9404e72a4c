#include "model/router.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/linear.h"
#include "kernels/ops.h"

namespace dsv3 {

RouterParams router_params(const ModelConfig& c) {
  RouterParams p;
  p.n_experts = c.n_routed_experts;
  p.top_k = c.num_experts_per_tok;
  p.n_group = c.n_group;
  p.topk_group = c.topk_group;
  p.sigmoid = c.scoring_func == ScoringFunc::kSigmoid;
  // "greedy" ignores groups (DeepSeek-V2-Lite); the other two limit the choice to groups.
  p.group_limited = c.topk_method != TopkMethod::kGreedy && c.n_group > 1;
  p.group_top2_sum = c.topk_method == TopkMethod::kNoauxTc;
  p.norm_topk_prob = c.norm_topk_prob;
  p.routed_scaling_factor = float(c.routed_scaling_factor);
  return p;
}

void router_scores(float* scores, const float* x, int64_t n, const Weight& gate, const RouterParams& p) {
  linear(scores, x, n, gate);
  router_affinities(scores, n, p);
}

void router_affinities(float* scores, int64_t n, const RouterParams& p) {
  for (int64_t t = 0; t < n; ++t) {
    float* s = scores + t * p.n_experts;
    if (p.sigmoid)
      for (int64_t e = 0; e < p.n_experts; ++e) s[e] = 1.0f / (1.0f + std::exp(-s[e]));
    else
      softmax(s, p.n_experts);
  }
}

namespace {

// Indices of the k largest values (ties to the lower index), in descending order of value.
void top_k_indices(const float* v, int64_t n, int64_t k, int32_t* out) {
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  std::copy(idx.begin(), idx.begin() + k, out);
}

}  // namespace

void route_token(const float* scores, const float* bias, const RouterParams& p, int32_t* ids, float* weights) {
  const int64_t E = p.n_experts;
  std::vector<float> choice(scores, scores + E);
  if (bias)
    for (int64_t e = 0; e < E; ++e) choice[size_t(e)] += bias[e];
  if (p.group_limited) {
    const int64_t per = E / p.n_group;
    std::vector<float> group_score(size_t(p.n_group));
    for (int64_t g = 0; g < p.n_group; ++g) {
      const float* s = choice.data() + g * per;
      if (p.group_top2_sum) {
        int32_t top2[2];
        top_k_indices(s, per, std::min<int64_t>(2, per), top2);
        group_score[size_t(g)] = s[top2[0]] + (per > 1 ? s[top2[1]] : 0.0f);
      } else {
        group_score[size_t(g)] = *std::max_element(s, s + per);
      }
    }
    std::vector<int32_t> kept(size_t(p.topk_group));
    top_k_indices(group_score.data(), p.n_group, p.topk_group, kept.data());
    std::vector<bool> keep(size_t(p.n_group), false);
    for (int32_t g : kept) keep[size_t(g)] = true;
    for (int64_t e = 0; e < E; ++e)
      if (!keep[size_t(e / per)]) choice[size_t(e)] = -INFINITY;
  }
  top_k_indices(choice.data(), E, p.top_k, ids);
  float sum = 0.0f;
  for (int64_t k = 0; k < p.top_k; ++k) sum += (weights[k] = scores[ids[k]]);
  const float norm = p.norm_topk_prob ? 1.0f / (sum + 1e-20f) : 1.0f;
  for (int64_t k = 0; k < p.top_k; ++k) weights[k] *= norm * p.routed_scaling_factor;
}

}  // namespace dsv3
