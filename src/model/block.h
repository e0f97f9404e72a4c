// One decoder block (pre-norm residual):  x += MLA(RMSNorm(x));  x += FFN(RMSNorm(x)),
// where FFN is the dense MLP for the first first_k_dense_replace layers and DeepSeekMoE after.
// The MTP module's block is the same function. Attention reads its keys either from the latent
// caches (decoding) or from the whole sequences of the batch (training, the naive reference);
// the rest of the block is one code path. Backward: train/block_backward.h.
#pragma once
#include <cstdint>
#include <vector>

#include "model/mla.h"
#include "model/moe.h"

namespace dsv3 {

// Runs a MoE layer with its routed experts spread over several processes (expert
// parallelism: dist/expert_parallel.h). Same contract as moe_forward.
class MoeRunner {
 public:
  virtual ~MoeRunner() = default;
  virtual void forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& p,
                       ExpertLoad* load) = 0;
};

struct BlockContext {
  MlaContext mla;
  RouterParams router;
  MoeRunner* moe = nullptr;  // null: every expert runs here (moe_forward)
  Precision precision = Precision::kF32;  // of the linear layers (training's emulation)
};

// What the block's backward needs (n rows).
struct BlockActs {
  std::vector<float> x_in;   // [n, hidden] the residual stream entering the block
  std::vector<float> h1;     // [n, hidden] input_layernorm(x_in): MLA's input
  std::vector<float> x_mid;  // [n, hidden] after the attention residual
  std::vector<float> h2;     // [n, hidden] post_attention_layernorm(x_mid): the FFN's input
  MlaActs mla;
  MlpActs mlp;               // dense layers
  MoeActs moe;               // MoE layers
};

// x [n, hidden] is the residual stream, updated in place; attention through the caches.
void block_forward(float* x, int64_t n, const LayerWeights& w, const BlockContext& ctx, const RowPlacement& rows,
                   ExpertLoad* load = nullptr);

// The same over whole sequences (n = rows.n()); a (optional) receives the activations.
void block_forward(float* x, const Rows& rows, const LayerWeights& w, const BlockContext& ctx,
                   BlockActs* a = nullptr, ExpertLoad* load = nullptr);

}  // namespace dsv3
