#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/isa_kernels.h"
#include "kernels/linear.h"

namespace dsv3 {

namespace {

// Cache blocking: a KC-deep slice of an MC x NC output tile. The packed A block
// (MC x KC floats = 128 KB) and B block (NC x KC = 256 KB) stay in L2.
constexpr int64_t kKC = 256, kMC = 128, kNC = 256;

// ap[panel][k][mr]: rows [i0, i0+m) of A, depth [k0, k0+kc), zero-padded to mr.
void pack_a(float* ap, const GemmA& a, int64_t i0, int64_t m, int64_t k0, int64_t kc, int mr) {
  for (int64_t ib = 0; ib < m; ib += mr) {
    float* panel = ap + ib * kc;
    const int64_t rows = std::min<int64_t>(mr, m - ib);
    for (int64_t k = 0; k < kc; ++k) {
      float* dst = panel + k * mr;
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t ii = i0 + ib + i, kk = k0 + k;
        dst[i] = a.k_major ? a.p[kk * a.ld + ii] : a.p[ii * a.ld + kk];
      }
      for (int64_t i = rows; i < mr; ++i) dst[i] = 0.0f;
    }
  }
}

// bp[panel][k][nr]: columns [j0, j0+n) of Bᵀ, depth [k0, k0+kc), zero-padded to nr.
// rows: scratch of nr x kc floats.
void pack_b(float* bp, const GemmB& b, int64_t j0, int64_t n, int64_t k0, int64_t kc, int nr, float* rows) {
  const Weight& w = *b.w;
  for (int64_t jb = 0; jb < n; jb += nr) {
    float* panel = bp + jb * kc;
    const int64_t cols = std::min<int64_t>(nr, n - jb);
    if (b.transposed) {  // B(j, k) = W[k][j]: each weight row k gives a contiguous run of j
      for (int64_t k = 0; k < kc; ++k) {
        float* dst = panel + k * nr;
        weight_row_span_f32(dst, w, k0 + k, j0 + jb, cols);
        for (int64_t j = cols; j < nr; ++j) dst[j] = 0.0f;
      }
    } else {  // B(j, k) = W[j][k]: widen the panel's rows, then write the panel in order
      for (int64_t j = 0; j < cols; ++j) weight_row_span_f32(rows + j * kc, w, j0 + jb + j, k0, kc);
      for (int64_t k = 0; k < kc; ++k) {
        float* dst = panel + k * nr;
        for (int64_t j = 0; j < cols; ++j) dst[j] = rows[j * kc + k];
        for (int64_t j = cols; j < nr; ++j) dst[j] = 0.0f;
      }
    }
  }
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

}  // namespace

void gemm(float* c, int64_t ldc, int64_t M, int64_t N, int64_t K, const GemmA& a, const GemmB& b, bool accumulate) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::memset(c + i * ldc, 0, size_t(N) * sizeof(float));
    return;
  }
  const IsaKernels& isa = isa_kernels();
  const int mr = isa.gemm_mr, nr = isa.gemm_nr;
  const int64_t m_tiles = (M + kMC - 1) / kMC, n_tiles = (N + kNC - 1) / kNC;
  const bool parallel = double(M) * double(N) * double(K) >= double(1 << 20);  // see linear.cpp
#pragma omp parallel if (parallel)
  {
    std::vector<float> ap(static_cast<size_t>(round_up(kMC, mr) * kKC));
    std::vector<float> bp(static_cast<size_t>(round_up(kNC, nr) * kKC));
    std::vector<float> rows(static_cast<size_t>(nr * kKC));
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t mt = 0; mt < m_tiles; ++mt) {
      for (int64_t nt = 0; nt < n_tiles; ++nt) {
        const int64_t i0 = mt * kMC, m = std::min(kMC, M - i0);
        const int64_t j0 = nt * kNC, n = std::min(kNC, N - j0);
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
          const int64_t kc = std::min(kKC, K - k0);
          pack_a(ap.data(), a, i0, m, k0, kc, mr);
          pack_b(bp.data(), b, j0, n, k0, kc, nr, rows.data());
          const bool acc = accumulate || k0 > 0;
          for (int64_t jb = 0; jb < n; jb += nr)
            for (int64_t ib = 0; ib < m; ib += mr)
              isa.gemm_micro(ap.data() + ib * kc, bp.data() + jb * kc, kc, c + (i0 + ib) * ldc + j0 + jb, ldc,
                             std::min<int64_t>(mr, m - ib), std::min<int64_t>(nr, n - jb), acc);
        }
      }
    }
  }
}

}  // namespace dsv3
