#include "train/grpo.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/log_softmax.h"

namespace dsv3 {

std::vector<double> group_advantages(const std::vector<double>& rewards, int64_t G, double eps) {
  if (G < 1 || int64_t(rewards.size()) % G != 0)
    fail("GRPO: ", rewards.size(), " rewards do not make groups of ", G);
  std::vector<double> adv(rewards.size());
  for (size_t g0 = 0; g0 < rewards.size(); g0 += size_t(G)) {
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < G; ++i) mean += rewards[g0 + size_t(i)] / double(G);
    for (int64_t i = 0; i < G; ++i) var += (rewards[g0 + size_t(i)] - mean) * (rewards[g0 + size_t(i)] - mean) / double(G);
    const double sd = std::sqrt(var);
    for (int64_t i = 0; i < G; ++i) adv[g0 + size_t(i)] = (rewards[g0 + size_t(i)] - mean) / (sd + eps);
  }
  return adv;
}

double grpo_token_loss(double logp, double logp_old, double logp_ref, double adv, double weight,
                       const GrpoOptions& opt, double* dl) {
  const double rho = std::exp(logp - logp_old);
  const double unclipped = rho * adv;
  const double clipped = std::clamp(rho, 1.0 - opt.clip, 1.0 + opt.clip) * adv;
  const bool active = unclipped <= clipped;        // min() takes the term that depends on θ
  const double kl = std::exp(logp_ref - logp) - (logp_ref - logp) - 1.0;  // eq. (4)
  if (dl) *dl = -weight * ((active ? unclipped : 0.0) - opt.beta * (1.0 - std::exp(logp_ref - logp)));
  return -weight * (std::min(unclipped, clipped) - opt.beta * kl);
}

double LogProbRecorder::row(int64_t r, int32_t y, float* z, int64_t V, bool) {
  logp[size_t(r)] = log_prob(z, V, y);
  return 0.0;
}

double GrpoObjective::row(int64_t r, int32_t y, float* z, int64_t V, bool grad) {
  const size_t i = size_t(r);
  if (r_.weight[i] == 0.0) {  // not a sampled output token
    if (grad) std::fill(z, z + V, 0.0f);
    return 0.0;
  }
  const RowSoftmax s(z, V);
  double dl = 0.0;
  const double loss = grpo_token_loss(s.log_prob(z[y]), r_.logp_old[i], r_.logp_ref[i], r_.adv[i], r_.weight[i], opt_, &dl);
  if (!grad) return loss;
  // ∂L/∂z = ∂L/∂ℓ · (e_y − softmax(z))
  for (int64_t v = 0; v < V; ++v) z[v] = float(-dl * s.prob(z[v]));
  z[y] += float(dl);
  return loss;
}

}  // namespace dsv3
