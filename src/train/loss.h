// The output head and its cross-entropy, fused: logits are formed a chunk of rows at a time and
// never for the whole batch ([n, vocab] would dominate memory), and the gradient of each chunk
// is taken while its logits are at hand.
#pragma once
#include <cstdint>

#include "kernels/weight.h"
#include "kernels/precision.h"

namespace dsv3 {

struct HeadLoss {
  double sum = 0.0;     // Σ cross-entropy over rows with a target
  int64_t count = 0;    // rows with a target
  int64_t correct = 0;  // of which the argmax of the logits is the target (top-1 accuracy)
};

// h [n, hidden]; targets [n] (-1: no target). logits = h · headᵀ.
// When dh is given: dh [n, hidden] = coef · d(Σ CE)/dh (overwritten; rows without a target are
// zero), and dhead [vocab, hidden] += coef · d(Σ CE)/d(head).
HeadLoss head_loss(const float* h, int64_t n, const int32_t* targets, const Weight& head, Precision p, float coef,
                   float* dh, float* dhead);

}  // namespace dsv3
