#include "model/block.h"

#include <vector>

#include "kernels/ops.h"
#include "kernels/profile.h"

namespace dsv3 {

namespace {

// The block around an attention of either form: attend(out, h) writes MLA's output for the
// normed rows h. layer names the block in `dsv3 bench --profile-ops` (-1: not profiled per layer).
template <class Attend>
void block_body(float* x, int64_t n, int64_t layer, const LayerWeights& w, const BlockContext& ctx, Attend&& attend,
                BlockActs* a, ExpertLoad* load) {
  const int64_t H = ctx.mla.cfg.hidden_size;
  const float eps = float(ctx.mla.cfg.rms_norm_eps);
  std::vector<float> h1_local, h2_local, y(size_t(n * H));
  std::vector<float>& h1 = a ? a->h1 : h1_local;
  std::vector<float>& h2 = a ? a->h2 : h2_local;
  h1.resize(size_t(n * H));
  h2.resize(size_t(n * H));
  if (a) a->x_in.assign(x, x + n * H);
  {
    const profile::Scope s("attention", layer);
    rmsnorm(h1.data(), x, w.input_layernorm.data, n, H, eps);
    attend(y.data(), h1.data());
    add_inplace(x, y.data(), n * H);
  }
  if (a) a->x_mid.assign(x, x + n * H);
  const profile::Scope s(w.is_moe ? "moe" : "mlp", layer);
  rmsnorm(h2.data(), x, w.post_attention_layernorm.data, n, H, eps);
  // An expert-parallel runner records nothing: training runs without one.
  if (w.is_moe && ctx.moe) ctx.moe->forward(y.data(), h2.data(), n, w.moe, ctx.router, load);
  else if (w.is_moe) moe_forward(y.data(), h2.data(), n, w.moe, ctx.router, ctx.precision, a ? &a->moe : nullptr, load);
  else mlp_forward(y.data(), h2.data(), n, w.mlp, ctx.precision, a ? &a->mlp : nullptr);
  add_inplace(x, y.data(), n * H);
}

}  // namespace

void block_forward(float* x, int64_t n, const LayerWeights& w, const BlockContext& ctx, const RowPlacement& rows,
                   ExpertLoad* load) {
  block_body(
      x, n, rows.layer, w, ctx, [&](float* out, const float* h) { mla_forward_cached(out, h, n, w.self_attn, ctx.mla, rows); },
      nullptr, load);
}

void block_forward(float* x, const Rows& rows, const LayerWeights& w, const BlockContext& ctx, BlockActs* a,
                   ExpertLoad* load) {
  block_body(
      x, rows.n(), -1, w, ctx,
      [&](float* out, const float* h) {
        mla_forward(out, h, rows, w.self_attn, ctx.mla, ctx.precision, a ? &a->mla : nullptr);
      },
      a, load);
}

}  // namespace dsv3
