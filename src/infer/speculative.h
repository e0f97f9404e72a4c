// Speculative sampling (Leviathan et al. 2023; Chen et al. 2023). A draft token d was drawn
// from the drafter's distribution q; the target model's distribution at the same position is
// p. Accepting d with probability min(1, p(d)/q(d)) and, on rejection, drawing from the
// normalised residual max(0, p − q) yields exactly one draw from p — so speculative decoding
// changes the speed, never the distribution of the output. With greedy decoding p and q are
// one-hot and the rule reduces to "accept when the draft equals the argmax".
#pragma once
#include <cstdint>
#include <vector>

#include "infer/sampler.h"

namespace dsv3 {

bool accept_draft(const std::vector<double>& p, const std::vector<double>& q, int32_t draft, Rng& rng);

// A draw from max(0, p − q), normalised (from p when that is all zero, which only rounding
// can cause after a rejection).
int32_t draw_residual(const std::vector<double>& p, const std::vector<double>& q, Rng& rng);

}  // namespace dsv3
