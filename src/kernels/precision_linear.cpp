#include "kernels/precision_linear.h"

#include <vector>

#include "kernels/linear.h"

namespace dsv3 {

namespace {

enum class Tiles { kRows, kCols };  // 1×128 along a row, or 128×1 down a column

// A rounded copy of m [rows, cols], or m itself in float32 mode.
const float* rounded(const float* m, int64_t rows, int64_t cols, Precision p, Tiles tiles, std::vector<float>& buf) {
  if (p == Precision::kF32) return m;
  buf.assign(m, m + rows * cols);
  if (p == Precision::kBF16) bf16_round_all(buf.data(), rows * cols);
  else if (tiles == Tiles::kRows) fp8_quantize_row_tiles(buf.data(), rows, cols);
  else fp8_quantize_col_tiles(buf.data(), rows, cols);
  return buf.data();
}

}  // namespace

void linear_forward(float* y, const float* x, int64_t n, const Weight& w, Precision p) {
  if (p == Precision::kF32) return linear(y, x, n, w);
  std::vector<float> buf;
  linear(y, rounded(x, n, w.cols, p, Tiles::kRows, buf), n, w);
}

void linear_backward(float* dx, float* dw, const float* dy, const float* x, int64_t n, const Weight& w,
                     Precision p) {
  if (n == 0) return;
  std::vector<float> b1, b2;
  if (dx) linear_t(dx, rounded(dy, n, w.rows, p, Tiles::kRows, b1), n, w);
  if (dw) {
    const float* qdy = rounded(dy, n, w.rows, p, Tiles::kCols, b1);
    const float* qx = rounded(x, n, w.cols, p, Tiles::kCols, b2);
    linear_dw(dw, qdy, qx, n, w.rows, w.cols);
  }
}

}  // namespace dsv3
