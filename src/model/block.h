// One decoder block (pre-norm residual):  x += MLA(RMSNorm(x));  x += FFN(RMSNorm(x)),
// where FFN is the dense MLP for the first first_k_dense_replace layers and DeepSeekMoE after.
// The MTP module's block is the same function.
#pragma once
#include <cstdint>

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
};

// x [n, hidden] is the residual stream, updated in place.
void block_forward(float* x, int64_t n, const LayerWeights& w, const BlockContext& ctx, const RowPlacement& rows,
                   ExpertLoad* load = nullptr);

}  // namespace dsv3
