#include "model/mtp.h"

#include "kernels/ops.h"
#include "kernels/precision_linear.h"

namespace dsv3 {

void mtp_input_forward(float* x, const float* emb, const float* prev, int64_t n, const MtpWeights& w, float eps,
                       Precision p, std::vector<float>* cat) {
  const int64_t H = w.eh_proj.rows;
  std::vector<float> local;
  std::vector<float>& c = cat ? *cat : local;
  c.resize(size_t(n * 2 * H));
  for (int64_t t = 0; t < n; ++t) {
    rmsnorm(c.data() + t * 2 * H, emb + t * H, w.enorm.data, 1, H, eps);
    rmsnorm(c.data() + t * 2 * H + H, prev + t * H, w.hnorm.data, 1, H, eps);
  }
  linear_forward(x, c.data(), n, w.eh_proj, p);
}

}  // namespace dsv3
