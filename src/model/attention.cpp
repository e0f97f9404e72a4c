#include "model/attention.h"

#include <cstring>

#include "kernels/ops.h"

namespace dsv3 {

void attention_probs(float* p, const AttentionQuery& q, const StridedRows& k_c, const StridedRows& k_r, int64_t len,
                     float scale) {
  for (int64_t s = 0; s < len; ++s) p[s] = (dot(q.c, k_c.row(s), q.dc) + dot(q.r, k_r.row(s), q.dr)) * scale;
  softmax(p, len);
}

void attention_weighted_sum(float* o, const float* p, const StridedRows& v, int64_t dv, int64_t len) {
  std::memset(o, 0, size_t(dv) * sizeof(float));
  for (int64_t s = 0; s < len; ++s) axpy(o, p[s], v.row(s), dv);
}

}  // namespace dsv3
