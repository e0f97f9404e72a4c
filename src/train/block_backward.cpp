#include "train/block_backward.h"

#include <vector>

#include "train/mla_backward.h"
#include "train/moe_parallel.h"
#include "train/ops_backward.h"

namespace dsv3 {

void block_train_forward(float* x, const Rows& rows, const LayerWeights& w, const BlockContext& ctx,
                         BlockRecord& r) {
  block_forward(x, rows, w, ctx, &r.acts, w.is_moe ? &r.load : nullptr);
  // Under expert parallelism the runner keeps the routing (block_forward records none).
  const auto* ep = dynamic_cast<const ExpertParallelTraining*>(ctx.moe);
  if (w.is_moe) r.balance = moe_balance(ep ? ep->routing(w.moe) : r.acts.moe, rows, ctx.router);
}

void block_backward(float* dx, const Rows& rows, const LayerWeights& w, const BlockContext& ctx, float balance_coef,
                    const BlockRecord& r, const GradSink& g) {
  const int64_t n = rows.n(), H = ctx.mla.cfg.hidden_size;
  const float eps = float(ctx.mla.cfg.rms_norm_eps);
  const BlockActs& a = r.acts;
  std::vector<float> dh(size_t(n * H));
  // FFN residual: dx_mid = dx + RMSNorm'(FFN'(dx))
  if (auto* ep = dynamic_cast<ExpertParallelTraining*>(ctx.moe); ep && w.is_moe)
    ep->backward(dh.data(), dx, a.h2.data(), rows, w.moe, ctx.router, balance_coef, r.balance, g);
  else if (w.is_moe)
    moe_backward(dh.data(), dx, a.h2.data(), rows, w.moe, ctx.router, ctx.precision, balance_coef, a.moe, r.balance,
                 g);
  else
    mlp_backward(dh.data(), dx, a.h2.data(), n, w.mlp, ctx.precision, a.mlp, g);
  rmsnorm_backward(dx, g.of(w.post_attention_layernorm), dh.data(), a.x_mid.data(), w.post_attention_layernorm.data,
                   n, H, eps, /*accumulate=*/true);
  // Attention residual.
  mla_backward(dh.data(), dx, a.h1.data(), rows, w.self_attn, ctx.mla, ctx.precision, a.mla, g);
  rmsnorm_backward(dx, g.of(w.input_layernorm), dh.data(), a.x_in.data(), w.input_layernorm.data, n, H, eps,
                   /*accumulate=*/true);
}

}  // namespace dsv3
