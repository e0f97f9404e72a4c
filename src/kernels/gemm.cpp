#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <omp.h>

#include "core/dtype.h"
#include "core/parallel.h"
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

// n elements of a thread's packing scratch v, kept from call to call (grown, never shrunk) and
// not cleared: the packers write every element the micro-kernels read. Allocating and zeroing
// buffers for the largest panels (384 KB) on every call cost more than a small product itself:
// a tiny model's training step calls gemm thousands of times, and under ASan each of those
// buffers was fresh pages (a 4-step run of tests/data/pipeline/tiny8.json: 18 s, 0.2 s in
// Release).
template <typename T>
T* scratch(std::vector<T>& v, int64_t n) {
  if (v.size() < size_t(n)) v.resize(size_t(n));
  return v.data();
}

// A [M, K] (not k-major) rounded to BF16 once, straight into the microkernel's layout for every
// weight panel: ap[(i / mr)·kp·mr + p·mr + i % mr] = (A[i][2p], A[i][2p + 1]), kp = ⌈K/2⌉, the
// odd last column paired with zero and rows past M zero. A depth slice from pair p0 of row block
// ib is then the contiguous run at ib·kp·mr + p0·mr. Each row is rounded by the ISA's round_bf16
// into a scratch row, whose 32-bit words are the pairs.
void round_pack_a_bf16(uint32_t* ap, const GemmA& a, int64_t M, int64_t K, int mr) {
  const IsaKernels& isa = isa_kernels();
  const int64_t kp = (K + 1) / 2, blocks = (M + mr - 1) / mr;
#pragma omp parallel for schedule(static) if (M * K >= (1 << 16))
  for (int64_t ib = 0; ib < blocks; ++ib) {
    thread_local std::vector<uint16_t> row16;
    row16.resize(size_t(2 * kp));
    uint32_t* panel = ap + ib * kp * mr;
    for (int64_t i = 0; i < mr; ++i) {
      const int64_t row = ib * mr + i;
      if (row >= M) {
        for (int64_t p = 0; p < kp; ++p) panel[p * mr + i] = 0u;
        continue;
      }
      isa.round_bf16(row16.data(), a.p + row * a.ld, K);
      if (K % 2) row16[size_t(K)] = 0;
      for (int64_t p = 0; p < kp; ++p) std::memcpy(panel + p * mr + i, row16.data() + 2 * p, 4);
    }
  }
}

// Bᵀ's panel of weight rows [j0, j0 + n), depth [k0, k0 + kc), as BF16 pairs: a BF16 weight's
// stored row already holds them; other dtypes are widened to float32 (rows: kc floats of
// scratch) and rounded by the ISA's round_bf16 (row16: kc + 1 values of scratch).
void pack_b_bf16(uint32_t* bp, const Weight& w, int64_t j0, int64_t n, int64_t k0, int64_t kc, int nr, float* rows,
                 uint16_t* row16) {
  const IsaKernels& isa = isa_kernels();
  const int64_t kp = (kc + 1) / 2;
  for (int64_t jb = 0; jb < n; jb += nr) {
    uint32_t* panel = bp + jb * kp;
    const int64_t cols = std::min<int64_t>(nr, n - jb);
    for (int64_t j = 0; j < cols; ++j) {
      const uint16_t* src = row16;
      if (w.dtype == DType::BF16) {
        src = reinterpret_cast<const uint16_t*>(w.row_ptr(j0 + jb + j)) + k0;
      } else {
        weight_row_span_f32(rows, w, j0 + jb + j, k0, kc);
        isa.round_bf16(row16, rows, kc);
      }
      for (int64_t p = 0; p < kc / 2; ++p) std::memcpy(panel + p * nr + j, src + 2 * p, 4);
      if (kc % 2) panel[(kp - 1) * nr + j] = src[kc - 1];  // the odd last column, paired with zero
    }
    for (int64_t j = cols; j < nr; ++j)
      for (int64_t p = 0; p < kp; ++p) panel[p * nr + j] = 0u;
  }
}

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
    thread_local std::vector<float> ap_buf, bp_buf, rows_buf;  // each thread's own
    const int64_t kcm = std::min(kKC, K);
    float* ap = scratch(ap_buf, round_up(std::min(kMC, M), mr) * kcm);
    float* bp = scratch(bp_buf, round_up(std::min(kNC, N), nr) * kcm);
    float* rows = scratch(rows_buf, nr * kcm);
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t mt = 0; mt < m_tiles; ++mt) {
      for (int64_t nt = 0; nt < n_tiles; ++nt) {
        const int64_t i0 = mt * kMC, m = std::min(kMC, M - i0);
        const int64_t j0 = nt * kNC, n = std::min(kNC, N - j0);
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
          const int64_t kc = std::min(kKC, K - k0);
          pack_a(ap, a, i0, m, k0, kc, mr);
          pack_b(bp, b, j0, n, k0, kc, nr, rows);
          const bool acc = accumulate || k0 > 0;
          for (int64_t jb = 0; jb < n; jb += nr)
            for (int64_t ib = 0; ib < m; ib += mr)
              isa.gemm_micro(ap + ib * kc, bp + jb * kc, kc, c + (i0 + ib) * ldc + j0 + jb, ldc,
                             std::min<int64_t>(mr, m - ib), std::min<int64_t>(nr, n - jb), acc);
        }
      }
    }
  }
}

void gemm_bf16(float* c, int64_t ldc, int64_t M, int64_t N, int64_t K, const GemmA& a, const Weight& w) {
  // Packing a weight panel (widen, round, interleave) costs about as much as multiplying it by
  // 128 rows on vdpbf16ps, so each task packs its B panel once per depth slice and runs every
  // row block of its share of M against it. Tasks: N panels x enough M groups for all threads.
  const IsaKernels& isa = isa_kernels();
  const int mr = isa.bf16_mr, nr = isa.bf16_nr;
  constexpr int64_t kNCb = 128;
  const int64_t n_tiles = (N + kNCb - 1) / kNCb;
  const bool parallel = double(M) * double(N) * double(K) >= double(1 << 20);
  const int64_t threads = parallel ? team_threads() : 1;  // 1 inside a side-by-side expert: no extra packing
  const int64_t m_groups = std::min((M + mr - 1) / mr, std::max<int64_t>(1, (2 * threads + n_tiles - 1) / n_tiles));
  const int64_t m_per = round_up((M + m_groups - 1) / m_groups, mr);
  const int64_t kp_all = (K + 1) / 2;
  thread_local std::vector<uint32_t> a16;
  a16.resize(size_t(round_up(M, mr) * kp_all));
  round_pack_a_bf16(a16.data(), a, M, K, mr);
  const uint32_t* a16p = a16.data();
#pragma omp parallel if (parallel)
  {
    thread_local std::vector<uint32_t> bp_buf;  // each thread's own
    thread_local std::vector<float> rows_buf;
    thread_local std::vector<uint16_t> row16_buf;
    const int64_t kcm = std::min(kKC, K);
    uint32_t* bp = scratch(bp_buf, round_up(std::min(kNCb, N), nr) * ((kcm + 1) / 2));
    float* rows = scratch(rows_buf, kcm);
    uint16_t* row16 = scratch(row16_buf, kcm);
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t nt = 0; nt < n_tiles; ++nt) {
      for (int64_t g = 0; g < m_groups; ++g) {
        const int64_t j0 = nt * kNCb, n = std::min(kNCb, N - j0);
        const int64_t g0 = g * m_per, g1 = std::min(M, g0 + m_per);
        for (int64_t k0 = 0; k0 < K; k0 += kKC) {
          const int64_t kc = std::min(kKC, K - k0), kp = (kc + 1) / 2;
          pack_b_bf16(bp, w, j0, n, k0, kc, nr, rows, row16);
          for (int64_t jb = 0; jb < n; jb += nr)
            for (int64_t i = g0; i < g1; i += mr)
              isa.gemm_bf16_micro(a16p + i * kp_all + (k0 / 2) * mr, bp + jb * kp, kp, c + i * ldc + j0 + jb,
                                  ldc, std::min<int64_t>(mr, g1 - i), std::min<int64_t>(nr, n - jb), k0 > 0);
        }
      }
    }
  }
}

}  // namespace dsv3
