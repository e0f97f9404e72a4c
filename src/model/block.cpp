#include "model/block.h"

#include <vector>

#include "kernels/ops.h"
#include "kernels/profile.h"

namespace dsv3 {

void block_forward(float* x, int64_t n, const LayerWeights& w, const BlockContext& ctx, const RowPlacement& rows,
                   ExpertLoad* load) {
  const int64_t H = ctx.mla.cfg.hidden_size;
  const float eps = float(ctx.mla.cfg.rms_norm_eps);
  std::vector<float> h(size_t(n * H)), y(size_t(n * H));
  {
    const profile::Scope s("attention", rows.layer);
    rmsnorm(h.data(), x, w.input_layernorm.data, n, H, eps);
    mla_forward_cached(y.data(), h.data(), n, w.self_attn, ctx.mla, rows);
    add_inplace(x, y.data(), n * H);
  }
  const profile::Scope s(w.is_moe ? "moe" : "mlp", rows.layer);
  rmsnorm(h.data(), x, w.post_attention_layernorm.data, n, H, eps);
  if (w.is_moe && ctx.moe) ctx.moe->forward(y.data(), h.data(), n, w.moe, ctx.router, load);
  else if (w.is_moe) moe_forward(y.data(), h.data(), n, w.moe, ctx.router, load);
  else mlp_forward(y.data(), h.data(), n, w.mlp);
  add_inplace(x, y.data(), n * H);
}

}  // namespace dsv3
