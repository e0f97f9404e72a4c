// The metrics of dsv3 eval and their 95% confidence intervals.
//   accuracy, acc_norm, exact_match, passkey: proportions of independent 0/1 outcomes, with
//     the Wilson score interval (good at small n and near 0 or 1, where the normal one fails);
//   pass@k with n samples per problem: the unbiased estimator of Chen et al. 2021 ("Evaluating
//     Large Language Models Trained on Code", eq. 1), averaged over problems, with a
//     percentile bootstrap over problems (per-problem values are not 0/1);
//   perplexity: exp of the mean NLL, with the normal interval of the mean NLL exponentiated.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsv3::eval {

constexpr double kZ95 = 1.959963984540054;  // the standard normal's 97.5% quantile

struct Interval {
  double lo = 0, hi = 0;
};

// pass@k = 1 - C(n - c, k) / C(n, k): the probability that at least one of k samples drawn
// without replacement from n, of which c are correct, is correct. Needs 0 <= c <= n, 1 <= k <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// Wilson score interval of `successes` out of n (z = 1.96); [0, 0] when n == 0.
Interval wilson_interval(int64_t successes, int64_t n, double z = kZ95);

// Percentile bootstrap interval of the mean of `values` (resampled with replacement
// `resamples` times from a generator seeded with `seed`, so runs repeat exactly).
Interval bootstrap_mean_interval(const std::vector<double>& values, int64_t resamples = 2000, uint64_t seed = 1);

// Normal interval of the mean: mean ± z · s / sqrt(n).
Interval normal_mean_interval(const std::vector<double>& values, double z = kZ95);
double mean(const std::vector<double>& values);

// The length lm-evaluation-harness divides a choice's log-likelihood by for acc_norm: Python's
// len() of the choice string, i.e. its Unicode code points (not bytes, not tokens).
int64_t choice_length(std::string_view utf8);

// The index of the largest score (ties: the first, as numpy's argmax).
int64_t argmax_index(const std::vector<double>& scores);

// Multiple choice, one item: acc (argmax of log-likelihoods) and acc_norm (argmax of
// log-likelihood / choice_length) against the gold index.
struct McOutcome {
  int64_t pred = 0, pred_norm = 0;
};
McOutcome mc_outcome(const std::vector<double>& loglik, const std::vector<std::string>& choices);

}  // namespace dsv3::eval
