// GRPO (train/grpo.h): group-normalised advantages by hand, the per-token term against eq. (3)–(4)
// in each region of the clip, its derivative, and the whole objective through the model: its
// value against a direct evaluation of eq. (3) and its gradient by finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "posttrain_test_util.h"
#include "train/grpo.h"

namespace dsv3 {
namespace {

TEST(Grpo, GroupAdvantagesByHand) {
  // Group 1: {1, 0, 0, 1}: mean 0.5, std 0.5 -> ±1. Group 2: all equal -> 0 (no signal).
  // Group 3: {2, 0, 0, 0}: mean 0.5, std √0.75.
  const std::vector<double> a = group_advantages({1, 0, 0, 1, 3, 3, 3, 3, 2, 0, 0, 0}, 4, 0.0 + 1e-12);
  const double e[] = {1, -1, -1, 1, 0, 0, 0, 0, 1.5 / std::sqrt(0.75), -0.5 / std::sqrt(0.75),
                      -0.5 / std::sqrt(0.75), -0.5 / std::sqrt(0.75)};
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], e[i], 1e-9) << i;
  EXPECT_THROW(group_advantages({1, 2, 3}, 2, 1e-4), Error);
}

// −w (min(ρA, clip(ρ, 1−ε, 1+ε)A) − β (π_ref/π − log(π_ref/π) − 1)), from probabilities.
double eq3_term(double logp, double logp_old, double logp_ref, double A, double w, double eps, double beta) {
  const double pi = std::exp(logp), pi_old = std::exp(logp_old), pi_ref = std::exp(logp_ref);
  const double rho = pi / pi_old;
  const double clipped = std::min(std::max(rho, 1 - eps), 1 + eps);
  return -w * (std::min(rho * A, clipped * A) - beta * (pi_ref / pi - std::log(pi_ref / pi) - 1));
}

TEST(Grpo, TokenTermAndDerivativeInEveryRegion) {
  const GrpoOptions opt{4, 0.2, 0.1, 1e-4};
  // ρ = exp(ℓ − ℓ_old) inside the clip range, above it and below it, with A > 0 and A < 0.
  for (double A : {1.3, -0.7})
    for (double shift : {0.05, 0.5, -0.5, 0.0}) {
      const double lp = -1.2, lp_old = lp - shift, lp_ref = -0.9, w = 0.3;
      double dl = 0;
      const double v = grpo_token_loss(lp, lp_old, lp_ref, A, w, opt, &dl);
      EXPECT_NEAR(v, eq3_term(lp, lp_old, lp_ref, A, w, opt.clip, opt.beta), 1e-12);
      const double h = 1e-6;
      const double fd = (eq3_term(lp + h, lp_old, lp_ref, A, w, opt.clip, opt.beta) -
                         eq3_term(lp - h, lp_old, lp_ref, A, w, opt.clip, opt.beta)) / (2 * h);
      EXPECT_NEAR(dl, fd, 1e-7) << "A " << A << " shift " << shift;
    }
  // Clipped with A > 0 above 1+ε: only the KL term moves the policy.
  double dl = 0;
  grpo_token_loss(-1.0, -1.5, -0.5, 2.0, 1.0, opt, &dl);
  EXPECT_NEAR(dl, 0.1 * (1 - std::exp(0.5)), 1e-12);
}

// A batch of G = 3 outputs for one prompt: DenseProblem's 3 rows, outputs from position 2 on.
// ℓ_old is the current policy shifted per token, so that ρ falls in every region of the clip.
struct GrpoCase {
  test::DenseProblem pb{41};
  GrpoRows rows;
  GrpoOptions opt{3, 0.2, 0.05, 1e-4};
  std::vector<double> logp;  // the current policy's, per row
  GrpoCase() {
    const int64_t n = pb.batch.B * pb.batch.T;
    LogProbRecorder cur(n);
    pb.loss(pb.params, cur, nullptr);
    logp = cur.logp;
    std::mt19937 rng(5);
    std::normal_distribution<double> nd(0.0, 0.7);
    const std::vector<double> adv = group_advantages({1.0, 0.0, 0.5}, 3, opt.std_eps);
    rows.weight.assign(size_t(n), 0.0);
    rows.adv = rows.logp_old = rows.logp_ref = std::vector<double>(size_t(n), 0.0);
    const double shifts[] = {0.6, -0.6, 0.1, 0.0};
    int s = 0;
    for (int64_t b = 0; b < pb.batch.B; ++b) {
      int64_t len = 0;
      for (int64_t t = 1; t < pb.batch.T; ++t) len += pb.batch.target(b, t);
      for (int64_t t = 1; t < pb.batch.T; ++t) {
        if (!pb.batch.target(b, t)) continue;
        const size_t r = size_t(b * pb.batch.T + t - 1);
        rows.weight[r] = 1.0 / (1.0 * 3.0 * double(len));  // P = 1 prompt, G = 3
        rows.adv[r] = adv[size_t(b)];
        rows.logp_old[r] = logp[r] - shifts[s++ % 4];
        rows.logp_ref[r] = logp[r] + nd(rng);
      }
    }
  }
};

TEST(Grpo, ObjectiveThroughTheModelIsEquation3) {
  GrpoCase c;
  GrpoObjective obj(c.rows, c.opt);
  const double L = c.pb.loss(c.pb.params, obj, nullptr);
  // −J = −(1/G) Σ_i (1/|o_i|) Σ_t {min(ρÂ, clip(ρ)Â) − β D_KL}, summed here sample by sample.
  double J = 0;
  const auto& B = c.pb.batch;
  for (int64_t b = 0; b < B.B; ++b) {
    double len = 0, sum = 0;
    for (int64_t t = 1; t < B.T; ++t) len += B.target(b, t);
    for (int64_t t = 1; t < B.T; ++t) {
      if (!B.target(b, t)) continue;
      const size_t r = size_t(b * B.T + t - 1);
      sum += -eq3_term(c.logp[r], c.rows.logp_old[r], c.rows.logp_ref[r], c.rows.adv[r], 1.0, c.opt.clip, c.opt.beta);
    }
    J += sum / len / 3.0;
  }
  EXPECT_NEAR(L, -J, 1e-9 + 1e-6 * std::fabs(J));
}

TEST(Grpo, GradientThroughTheModelMatchesFiniteDifferences) {
  GrpoCase c;
  test::check_head_gradient(c.pb, [&] { return std::make_unique<GrpoObjective>(c.rows, c.opt); });
}

TEST(Grpo, RatioOneGradientIsThePolicyGradient) {
  // With ℓ_old = ℓ and β = 0, ∂L/∂z = −w Â (e_y − softmax(z)): REINFORCE with the group baseline.
  const int64_t V = 6;
  std::vector<float> z = {0.3f, -1.0f, 2.0f, 0.5f, 0.0f, -0.2f};
  const double lp = log_prob(z.data(), V, 4);
  GrpoRows r{{0.5}, {-1.5}, {lp}, {lp}};
  GrpoObjective obj(r, {2, 0.2, 0.0, 1e-4});
  std::vector<float> g = z;
  obj.row(0, 4, g.data(), V, true);
  double se = 0;
  for (float x : z) se += std::exp(double(x));
  for (int64_t v = 0; v < V; ++v)
    EXPECT_NEAR(g[size_t(v)], -0.5 * -1.5 * ((v == 4) - std::exp(double(z[size_t(v)])) / se), 1e-6) << v;
}

}  // namespace
}  // namespace dsv3
