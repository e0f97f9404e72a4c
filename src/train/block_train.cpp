#include "train/block_train.h"

#include "kernels/ops.h"
#include "train/ops_backward.h"

namespace dsv3 {

void block_train_forward(float* x, const Rows& rows, const LayerWeights& w, const TrainContext& ctx, BlockActs& a) {
  const int64_t n = rows.n(), H = ctx.cfg.hidden_size;
  a.x_in.assign(x, x + n * H);
  a.h1.resize(size_t(n * H));
  a.h2.resize(size_t(n * H));
  std::vector<float> y(size_t(n * H));
  rmsnorm(a.h1.data(), x, w.input_layernorm.data, n, H, ctx.eps);
  mla_train_forward(y.data(), a.h1.data(), rows, w.self_attn, ctx, a.mla);
  add_inplace(x, y.data(), n * H);
  a.x_mid.assign(x, x + n * H);
  rmsnorm(a.h2.data(), x, w.post_attention_layernorm.data, n, H, ctx.eps);
  if (w.is_moe) moe_train_forward(y.data(), a.h2.data(), rows, w.moe, ctx, a.moe);
  else mlp_train_forward(y.data(), a.h2.data(), n, w.mlp, ctx.precision, a.mlp);
  add_inplace(x, y.data(), n * H);
}

void block_train_backward(float* dx, const Rows& rows, const LayerWeights& w, const TrainContext& ctx,
                          float balance_coef, const BlockActs& a, const GradSink& g) {
  const int64_t n = rows.n(), H = ctx.cfg.hidden_size;
  std::vector<float> dh(size_t(n * H));
  // FFN residual: dx_mid = dx + RMSNorm'(FFN'(dx))
  if (w.is_moe) moe_train_backward(dh.data(), dx, a.h2.data(), rows, w.moe, ctx, balance_coef, a.moe, g);
  else mlp_train_backward(dh.data(), dx, a.h2.data(), n, w.mlp, ctx.precision, a.mlp, g);
  rmsnorm_backward(dx, g.of(w.post_attention_layernorm), dh.data(), a.x_mid.data(), w.post_attention_layernorm.data,
                   n, H, ctx.eps, /*accumulate=*/true);
  // Attention residual.
  mla_train_backward(dh.data(), dx, a.h1.data(), rows, w.self_attn, ctx, a.mla, g);
  rmsnorm_backward(dx, g.of(w.input_layernorm), dh.data(), a.x_in.data(), w.input_layernorm.data, n, H, ctx.eps,
                   /*accumulate=*/true);
}

}  // namespace dsv3
