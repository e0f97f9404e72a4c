// The backward of model/block.h's full-sequence block_forward.
#pragma once
#include <cstdint>

#include "model/block.h"
#include "train/moe_backward.h"

namespace dsv3 {

// What training keeps of one block's forward: the model's activation record, and for MoE
// layers the balance loss's terms and the routing counts.
struct BlockRecord {
  BlockActs acts;
  MoeBalance balance;
  ExpertLoad load;
};

// Runs model/block.h's block_forward over rows with a record, and the MoE statistics.
void block_train_forward(float* x, const Rows& rows, const LayerWeights& w, const BlockContext& ctx,
                         BlockRecord& r);

// dx [n, hidden]: on entry dL/d(block output), on return dL/d(block input).
void block_backward(float* dx, const Rows& rows, const LayerWeights& w, const BlockContext& ctx, float balance_coef,
                    const BlockRecord& r, const GradSink& g);

}  // namespace dsv3
