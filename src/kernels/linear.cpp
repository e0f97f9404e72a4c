#include "kernels/linear.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/isa_kernels.h"

namespace dsv3 {

namespace {

constexpr int64_t kRowTile = 16;   // weight rows widened to float32 at a time
constexpr int64_t kTokTile = 64;   // input rows multiplied against them at a time
constexpr int64_t kColTile = 128;  // linear_t: output columns per task (one FP8 block)
constexpr double kParallelMinFlops = 1 << 15;  // below this, threads cost more than they save

float fp8_scale(const Weight& w, int64_t r, int64_t c) {
  return w.scale_inv[((w.row0 + r) / w.block) * w.scale_cols + c / w.block];
}

}  // namespace

void weight_row_span_f32(float* out, const Weight& w, int64_t r, int64_t c0, int64_t nc) {
  const IsaKernels& k = isa_kernels();
  const uint8_t* row = w.row_ptr(r);
  switch (w.dtype) {
    case DType::F32: std::memcpy(out, row + 4 * c0, size_t(nc) * 4); break;
    case DType::BF16: k.widen_bf16(out, reinterpret_cast<const uint16_t*>(row) + c0, nc); break;
    case DType::F16: k.widen_f16(out, reinterpret_cast<const uint16_t*>(row) + c0, nc); break;
    case DType::F8_E4M3:
      for (int64_t c = c0; c < c0 + nc;) {
        const int64_t end = std::min(c0 + nc, (c / w.block + 1) * w.block);
        k.widen_fp8(out + (c - c0), row + c, end - c, fp8_scale(w, r, c));
        c = end;
      }
      break;
    default: std::memset(out, 0, size_t(nc) * 4); break;  // validated away at load time
  }
}

void weight_row_f32(float* out, const Weight& w, int64_t r) { weight_row_span_f32(out, w, r, 0, w.cols); }

void linear(float* y, const float* x, int64_t n, const Weight& w) {
  const IsaKernels& k = isa_kernels();
  const int64_t R = w.rows, C = w.cols;
  const int64_t row_tiles = (R + kRowTile - 1) / kRowTile;
  const int64_t tok_tiles = (n + kTokTile - 1) / kTokTile;
  const bool direct = w.dtype == DType::F32;
  const bool parallel = double(n) * double(R) * double(C) >= kParallelMinFlops;
#pragma omp parallel if (parallel)
  {
    std::vector<float> buf(direct ? 0 : size_t(kRowTile * C));
#pragma omp for collapse(2) schedule(static)
    for (int64_t rt = 0; rt < row_tiles; ++rt) {
      for (int64_t tt = 0; tt < tok_tiles; ++tt) {
        const int64_t r0 = rt * kRowTile, nr = std::min(kRowTile, R - r0);
        const int64_t t0 = tt * kTokTile, nt = std::min(kTokTile, n - t0);
        const float* wf;
        if (direct) {
          wf = reinterpret_cast<const float*>(w.row_ptr(r0));
        } else {
          for (int64_t r = 0; r < nr; ++r) weight_row_f32(buf.data() + r * C, w, r0 + r);
          wf = buf.data();
        }
        k.dot_tile(y + t0 * R + r0, R, x + t0 * C, C, nt, wf, C, nr, C);
      }
    }
  }
}

void linear_t(float* y, const float* x, int64_t n, const Weight& w) {
  const IsaKernels& k = isa_kernels();
  const int64_t R = w.rows, C = w.cols;
  const int64_t col_tiles = (C + kColTile - 1) / kColTile;
  const bool direct = w.dtype == DType::F32;
  const bool parallel = double(n) * double(R) * double(C) >= kParallelMinFlops;
#pragma omp parallel if (parallel)
  {
    float span[kColTile];
#pragma omp for schedule(static)
    for (int64_t ct = 0; ct < col_tiles; ++ct) {
      const int64_t c0 = ct * kColTile, nc = std::min(kColTile, C - c0);
      for (int64_t t = 0; t < n; ++t) std::memset(y + t * C + c0, 0, size_t(nc) * 4);
      for (int64_t r = 0; r < R; ++r) {
        const float* wr;
        if (direct) {
          wr = reinterpret_cast<const float*>(w.row_ptr(r)) + c0;
        } else {
          weight_row_span_f32(span, w, r, c0, nc);
          wr = span;
        }
        for (int64_t t = 0; t < n; ++t) k.axpy(y + t * C + c0, x[t * R + r], wr, nc);
      }
    }
  }
}

}  // namespace dsv3

namespace dsv3 {

namespace {
// out [cols, rows] = in [rows, cols]ᵀ
void transpose(float* out, const float* in, int64_t rows, int64_t cols) {
  constexpr int64_t B = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += B)
    for (int64_t c0 = 0; c0 < cols; c0 += B)
      for (int64_t r = r0; r < std::min(rows, r0 + B); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + B); ++c) out[c * rows + r] = in[r * cols + c];
}
}  // namespace

void linear_dw(float* dw, const float* dy, const float* x, int64_t n, int64_t R, int64_t C) {
  if (n == 0) return;
  // As a product of row-major operands: dW[r, c] = dot(dyᵀ[r, :], xᵀ[c, :]) over the n rows.
  std::vector<float> dyT(static_cast<size_t>(R * n)), xT(static_cast<size_t>(C * n));
  transpose(dyT.data(), dy, n, R);
  transpose(xT.data(), x, n, C);
  const IsaKernels& k = isa_kernels();
  const int64_t row_tiles = (R + kTokTile - 1) / kTokTile, col_tiles = (C + kRowTile - 1) / kRowTile;
  const bool parallel = double(n) * double(R) * double(C) >= kParallelMinFlops;
#pragma omp parallel if (parallel)
  {
    std::vector<float> tile(static_cast<size_t>(kTokTile * kRowTile));
#pragma omp for collapse(2) schedule(static)
    for (int64_t rt = 0; rt < row_tiles; ++rt) {
      for (int64_t ct = 0; ct < col_tiles; ++ct) {
        const int64_t r0 = rt * kTokTile, nr = std::min(kTokTile, R - r0);
        const int64_t c0 = ct * kRowTile, nc = std::min(kRowTile, C - c0);
        k.dot_tile(tile.data(), kRowTile, dyT.data() + r0 * n, n, nr, xT.data() + c0 * n, n, nc, n);
        for (int64_t r = 0; r < nr; ++r)
          for (int64_t c = 0; c < nc; ++c) dw[(r0 + r) * C + c0 + c] += tile[size_t(r * kRowTile + c)];
      }
    }
  }
}

}  // namespace dsv3
