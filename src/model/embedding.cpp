#include "model/embedding.h"

#include "kernels/linear.h"
#include "kernels/precision_linear.h"

namespace dsv3 {

void embed_forward(float* out, const int32_t* tokens, int64_t n, const Weight& table) {
  for (int64_t i = 0; i < n; ++i) weight_row_f32(out + i * table.cols, table, tokens[i]);
}

void head_forward(float* logits, const float* h, int64_t n, const Weight& head, Precision p) {
  linear_forward(logits, h, n, head, p);
}

}  // namespace dsv3
