// Log-softmax of one row of logits, the one implementation that training's losses (cross-entropy,
// distillation, GRPO: train/loss.h, distill.h, grpo.h) and evaluation's log-likelihoods
// (eval/score.h) share, so a log-probability means the same number in both.
//   log softmax(z/τ)_v = (z_v − m)/τ − log Σ_u exp((z_u − m)/τ),   m = max_u z_u
// z [V] float; the differences z_v − m are taken in float (they are exact for logits within a
// factor of 2 of each other, and it is what the reference-checked cross-entropy always did), the
// exponentials and their sum in double.
#pragma once
#include <cmath>
#include <cstdint>

namespace dsv3 {

struct RowSoftmax {
  float mx;          // max_v z_v
  int64_t arg = 0;   // its first index (the greedy token)
  double tau = 1.0;  // temperature
  double se = 0.0;   // Σ_v exp((z_v − mx)/τ)
  double log_se;

  RowSoftmax(const float* z, int64_t V, double temperature = 1.0) : mx(z[0]), tau(temperature) {
    for (int64_t v = 1; v < V; ++v)
      if (z[v] > mx) mx = z[v], arg = v;
    for (int64_t v = 0; v < V; ++v) se += std::exp(double(z[v] - mx) / tau);
    log_se = std::log(se);
  }
  // log softmax(z/τ)_v, given z_v.
  double log_prob(float zv) const { return double(zv - mx) / tau - log_se; }
  // softmax(z/τ)_v, given z_v.
  double prob(float zv) const { return std::exp(double(zv - mx) / tau) / se; }
};

}  // namespace dsv3
