// Group Relative Policy Optimization (GRPO): Shao et al. 2024, "DeepSeekMath", §4.1, eq. (3)–(4)
// and outcome supervision (§4.1.2). The DeepSeek-R1 report (eq. 1–3) writes the same objective
// with one ratio per output; this is DeepSeekMath's per-token form, which it reduces to for
// one-token outputs.
//
// For a prompt q, G outputs o_1..o_G are sampled from π_θold and given rewards r_1..r_G. Then
//
//   J(θ) = E[ (1/G) Σ_i (1/|o_i|) Σ_t { min( ρ_{i,t} Â_{i,t}, clip(ρ_{i,t}, 1−ε, 1+ε) Â_{i,t} )
//                                        − β D_KL[π_θ ‖ π_ref]_{i,t} } ]                   eq. (3)
//   ρ_{i,t} = π_θ(o_{i,t} | q, o_{i,<t}) / π_θold(o_{i,t} | q, o_{i,<t})
//   D_KL    = π_ref/π_θ − log(π_ref/π_θ) − 1        (per token, an unbiased estimator)     eq. (4)
//   Â_{i,t} = r̃_i = (r_i − mean(r)) / std(r)        (outcome supervision, every t of o_i)
//
// Only the output tokens o_{i,t} are scored (the prompt is masked). We minimise L = −J, the
// expectation being the mean over the step's P prompts: token (i,t) weighs w_i = 1/(P·G·|o_i|).
// With ℓ = log π_θ(o_{i,t}) and ℓ_old, ℓ_ref the same under π_θold, π_ref:
//
//   ρ = exp(ℓ − ℓ_old);   the min takes the unclipped term when ρÂ ≤ clip(ρ)Â ("active")
//   ∂L/∂ℓ = −w_i · ( [active]·ρÂ − β(1 − exp(ℓ_ref − ℓ)) )
//   ∂L/∂z = −∂L/∂ℓ · (softmax(z) − e_y)          (z: the logits of the row, y = o_{i,t})
//
// The gradient flows into π_θ only; ℓ_old and ℓ_ref are constants. One policy update per batch
// of samples (DeepSeekMath §4.2: "the policy model only has a single update following each
// exploration stage"), so π_θold is the policy of the step and ρ = 1 in value; the clip still
// applies to the gradient through ρ's form and is exercised by the tests with ρ ≠ 1.
#pragma once
#include <cstdint>
#include <vector>

#include "train/loss.h"

namespace dsv3 {

struct GrpoOptions {
  int64_t group = 8;     // G: samples per prompt
  double clip = 0.2;     // ε
  double beta = 0.04;    // β, the KL coefficient (DeepSeekMath §4.2)
  double std_eps = 1e-4; // added to std(r): a group with equal rewards gets Â = 0, not 0/0
};

// Â_i = (r_i − mean(r)) / (std(r) + eps) within each consecutive group of G rewards; std is the
// group's population standard deviation (1/G).
std::vector<double> group_advantages(const std::vector<double>& rewards, int64_t G, double eps);

// Per token, one term of L = −J: −w (min(ρÂ, clip(ρ)Â) − β D_KL). Returns the term; *dl (when
// given) = ∂term/∂ℓ. The direct transcription of eq. (3)–(4) for one token.
double grpo_token_loss(double logp, double logp_old, double logp_ref, double adv, double weight,
                       const GrpoOptions& opt, double* dl = nullptr);

// A HeadObjective that records log π(y) of every target row (rows without one stay 0).
class LogProbRecorder : public HeadObjective {
 public:
  explicit LogProbRecorder(int64_t rows) : logp(size_t(rows), 0.0) {}
  double row(int64_t r, int32_t y, float* z, int64_t V, bool grad) override;
  std::vector<double> logp;  // [B·T]
};

// L's terms for the target rows of one batch of sampled outputs. Per row r = b·T + t (the row
// whose logits predict token t+1 of sequence b): the token's weight w, Â, ℓ_old and ℓ_ref.
struct GrpoRows {
  std::vector<double> weight, adv, logp_old, logp_ref;  // [B·T]
};

class GrpoObjective : public HeadObjective {
 public:
  GrpoObjective(GrpoRows rows, const GrpoOptions& opt) : r_(std::move(rows)), opt_(opt) {}
  double row(int64_t r, int32_t y, float* z, int64_t V, bool grad) override;

 private:
  GrpoRows r_;
  GrpoOptions opt_;
};

}  // namespace dsv3
