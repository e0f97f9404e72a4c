// Zero-bubble pipeline schedules (ZB1P, DualPipe) split a stage's backward in two: B, the input
// gradients the previous stage is waiting for, and W, the weight gradients, which only the
// optimizer step needs and which fill the schedule's bubbles. Every weight gradient of a Linear
// (dW += dyᵀ·x, as costly as dx) goes through linear_backward below: with a sink that defers,
// dx is computed now and (dy, x) are kept for the W step, which runs the same product later.
// RMSNorm weights and the embedding's scatter-add stay in B (a vector per row: negligible).
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "kernels/precision.h"
#include "kernels/weight.h"
#include "train/params.h"

namespace dsv3 {

class DeferredWeightGrads {
 public:
  // Copies dy [n, w.rows] and x [n, w.cols]; thread-safe (the expert loop queues in parallel).
  void push(float* dw, const float* dy, const float* x, int64_t n, const Weight& w, Precision p);
  // dw += q(dy)ᵀ·q(x) for each queued product, in the order queued; empties the queue.
  void run();
  bool empty() const { return items_.empty(); }

 private:
  struct Item {
    float* dw;
    std::vector<float> dy, x;
    int64_t n;
    Weight w;
    Precision p;
  };
  std::vector<Item> items_;
  std::mutex mutex_;
};

// The backward of a Linear inside a training backward: dx [n, w.cols] (overwritten) now; the
// weight gradient into g now, or queued when g.defer is set.
void linear_backward(float* dx, const GradSink& g, const float* dy, const float* x, int64_t n, const Weight& w,
                     Precision p);

}  // namespace dsv3
