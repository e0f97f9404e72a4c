#include "train/grad_sum.h"

#include <algorithm>

#include "core/error.h"

namespace dsv3 {

std::vector<float> PairwiseSum::fresh() {
  if (free_.empty()) return std::vector<float>(size_t(n_), 0.0f);
  std::vector<float> v = std::move(free_.back());
  free_.pop_back();
  std::fill(v.begin(), v.end(), 0.0f);
  return v;
}

void PairwiseSum::merge_top() {
  Part right = std::move(stack_.back());
  stack_.pop_back();
  Part& left = stack_.back();
  float* l = left.sum.data();
  const float* r = right.sum.data();
  const int64_t n = n_;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) l[i] += r[i];
  left.terms += right.terms;
  free_.push_back(std::move(right.sum));
}

void PairwiseSum::add(std::vector<float> term) {
  if (int64_t(term.size()) != n_) fail("PairwiseSum: a term of ", term.size(), " floats, expected ", n_);
  stack_.push_back({std::move(term), 1});
  while (stack_.size() >= 2 && stack_[stack_.size() - 2].terms == stack_.back().terms) merge_top();
}

std::vector<float> PairwiseSum::take() {
  if (stack_.empty()) return fresh();
  while (stack_.size() >= 2) merge_top();
  std::vector<float> out = std::move(stack_.back().sum);
  stack_.clear();
  return out;
}

}  // namespace dsv3
