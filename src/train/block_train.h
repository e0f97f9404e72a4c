// One decoder block in training:  x += MLA(RMSNorm(x));  x += FFN(RMSNorm(x)),  as model/block.h.
#pragma once
#include <cstdint>
#include <vector>

#include "train/mla_train.h"
#include "train/moe_train.h"

namespace dsv3 {

struct BlockActs {
  std::vector<float> x_in;   // [n, hidden] the residual stream entering the block
  std::vector<float> h1;     // [n, hidden] input_layernorm(x_in): MLA's input
  std::vector<float> x_mid;  // [n, hidden] after the attention residual
  std::vector<float> h2;     // [n, hidden] post_attention_layernorm(x_mid): the FFN's input
  MlaActs mla;
  MlpActs mlp;               // dense layers
  MoeActs moe;               // MoE layers
};

// x [n, hidden]: the residual stream, updated in place.
void block_train_forward(float* x, const Rows& rows, const LayerWeights& w, const TrainContext& ctx, BlockActs& a);

// dx [n, hidden]: on entry dL/d(block output), on return dL/d(block input).
void block_train_backward(float* dx, const Rows& rows, const LayerWeights& w, const TrainContext& ctx,
                          float balance_coef, const BlockActs& a, const GradSink& g);

}  // namespace dsv3
