#include "train/weight_grad.h"

#include "kernels/precision_linear.h"

namespace dsv3 {

void DeferredWeightGrads::push(float* dw, const float* dy, const float* x, int64_t n, const Weight& w, Precision p) {
  Item it{dw, std::vector<float>(dy, dy + n * w.rows), std::vector<float>(x, x + n * w.cols), n, w, p};
  const std::lock_guard<std::mutex> lock(mutex_);
  items_.push_back(std::move(it));
}

void DeferredWeightGrads::run() {
  // Queued items of one chunk write distinct tensors, so their order does not change any sum;
  // chunks' W run in micro-batch order, so each tensor's sum over micro-batches is one
  // process's.
  for (Item& it : items_) linear_backward(nullptr, it.dw, it.dy.data(), it.x.data(), it.n, it.w, it.p);
  items_.clear();
}

void linear_backward(float* dx, const GradSink& g, const float* dy, const float* x, int64_t n, const Weight& w,
                     Precision p) {
  if (!g.defer) return linear_backward(dx, g.of(w), dy, x, n, w, p);
  linear_backward(dx, nullptr, dy, x, n, w, p);
  if (n > 0) g.defer->push(g.of(w), dy, x, n, w, p);
}

}  // namespace dsv3
