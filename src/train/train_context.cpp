#include "train/train_context.h"

namespace dsv3 {

TrainContext::TrainContext(const ModelConfig& c, Precision p)
    : cfg(c), rope(c), softmax_scale(attention_softmax_scale(c)), router(router_params(c)), precision(p),
      eps(float(c.rms_norm_eps)) {}

void TrainContext::ensure_positions(int64_t T) {
  const int64_t half = cfg.qk_rope_head_dim / 2;
  const int64_t have = int64_t(cos.size()) / half;
  if (have >= T) return;
  cos.resize(size_t(T * half));
  sin.resize(size_t(T * half));
  for (int64_t t = have; t < T; ++t) rope.angles(t, cos.data() + t * half, sin.data() + t * half);
}

}  // namespace dsv3
