// Sums of gradient buffers in a fixed order: the micro-batches of one optimizer step, and the
// data-parallel ranks' partial sums (train/zero.h), both go through this one rule, so that a
// run split over ranks adds exactly the same numbers in exactly the same grouping as one process.
//
// The rule is the binary counter: terms t0, t1, ... merge pairwise as they arrive
// ((t0+t1)+(t2+t3))+..., and what is left at the end merges from the most recent group back.
// For 2^k terms that is the complete binary tree; a block of 2^j consecutive terms starting at a
// multiple of 2^j is always one subtree. So when D ranks (a power of two) each sum A/D
// consecutive micro-batches (a power of two) and their partials are summed with the same rule,
// the result is the single-process sum of the A micro-batches bit for bit.
#pragma once
#include <cstdint>
#include <vector>

namespace dsv3 {

class PairwiseSum {
 public:
  explicit PairwiseSum(int64_t n) : n_(n) {}

  // A zeroed buffer of n floats to compute the next term in (recycled from merged terms).
  std::vector<float> fresh();
  void add(std::vector<float> term);  // term [n]
  // The sum of the terms added since the last take (zeros when none).
  std::vector<float> take();
  // Hands a buffer of n floats (e.g. a previous take's) back for fresh() to reuse.
  void recycle(std::vector<float> buffer) {
    if (int64_t(buffer.size()) == n_) free_.push_back(std::move(buffer));
  }

 private:
  struct Part {
    std::vector<float> sum;
    int64_t terms = 0;
  };
  void merge_top();  // the last two parts become one
  int64_t n_;
  std::vector<Part> stack_;
  std::vector<std::vector<float>> free_;
};

}  // namespace dsv3
