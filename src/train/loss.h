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

// What a row's logits are scored by instead of cross-entropy: the post-training objectives that
// need the whole distribution (distillation: train/distill.h) or the target's log-probability
// under other models (GRPO: train/grpo.h). Each row is scored once per forward, on any thread,
// concurrently with other rows (an implementation writes only to its row's own slots).
class HeadObjective {
 public:
  virtual ~HeadObjective() = default;
  // row: index into h (b·T + t of the batch); y: its target; z [V]: its logits. Returns the
  // row's term of the loss; when grad, overwrites z with d(term)/dz. Terms carry their own
  // weights (head_loss's coef does not apply to them).
  virtual double row(int64_t row, int32_t y, float* z, int64_t V, bool grad) = 0;
};

// h [n, hidden]; targets [n] (-1: no target). logits = h · headᵀ.
// When dh is given: dh [n, hidden] = coef · d(Σ CE)/dh (overwritten; rows without a target are
// zero), and dhead [vocab, hidden] += coef · d(Σ CE)/d(head).
// With `objective`, each row with a target is scored by it (sum: Σ of its terms; coef unused).
HeadLoss head_loss(const float* h, int64_t n, const int32_t* targets, const Weight& head, Precision p, float coef,
                   float* dh, float* dhead, HeadObjective* objective = nullptr);

// log softmax(z)[y] in double precision, and the argmax; z [V].
double log_prob(const float* z, int64_t V, int32_t y, int64_t* argmax = nullptr);

}  // namespace dsv3
