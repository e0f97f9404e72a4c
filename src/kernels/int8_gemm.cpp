#include "kernels/int8_gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "kernels/int8_gemm_kernel.h"
#include "kernels/quant_kernels.h"
#include "kernels/quant_weight.h"

namespace dsv3 {

namespace {

constexpr int64_t kPanelsPerTile = 4;  // 128 weight rows packed per task (K = 1024: 128 KB, in L2)

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// x [n, k] as quant_linear rounds it, plus the per-unit -128 · Σq that undoes the weight's +128.
struct Int8Acts {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> nsum;
  int64_t ldq = 0, units = 0;

  void resize(int64_t n, int64_t k) {
    ldq = round_up(k, kQuantUnit);
    units = ldq / kQuantUnit;
    q.resize(size_t(n * ldq));
    d.resize(size_t(n * units));
    nsum.resize(size_t(n * units));
  }
};

// Rows [j0, j0 + nj) of w (nj <= kPanelsPerTile · 32) against input rows [i0, i1).
void tile(float* y, int64_t ldy, const Int8Acts& a, const Weight& w, int64_t j0, int64_t nj, int64_t i0, int64_t i1,
          std::vector<uint8_t>& panels, std::vector<float>& cs) {
  const int64_t units = a.units, panel_bytes = units * kQuantUnit * kInt8NR;
  const int64_t n_panels = (nj + kInt8NR - 1) / kInt8NR;
  panels.resize(size_t(n_panels * panel_bytes));
  cs.resize(size_t(kInt8MR * units));
  for (int64_t p = 0; p < n_panels; ++p) {
    const int8_t* rows[kInt8NR];
    const int nr = int(std::min<int64_t>(kInt8NR, nj - p * kInt8NR));
    for (int j = 0; j < nr; ++j) rows[j] = reinterpret_cast<const int8_t*>(w.row_ptr(j0 + p * kInt8NR + j));
#if defined(DSV3_HAVE_X86_ISAS)
    int8_pack_panel_avx512(panels.data() + p * panel_bytes, rows, nr, w.cols, units);
#endif
  }
  for (int64_t p = 0; p < n_panels; ++p) {
    const int64_t jp = j0 + p * kInt8NR;
    const float* scales = w.scale_inv + ((w.row0 + jp) / w.block) * w.scale_cols;  // the panel's block row
    const int nr = int(std::min<int64_t>(kInt8NR, nj - p * kInt8NR));
    for (int64_t i = i0; i < i1; i += kInt8MR) {
      const int m = int(std::min<int64_t>(kInt8MR, i1 - i));
      for (int r = 0; r < m; ++r)
        for (int64_t u = 0; u < units; ++u)
          cs[size_t(r * units + u)] = a.d[size_t((i + r) * units + u)] * scales[u * kQuantUnit / w.block];
      const Int8Strip strip{a.q.data() + i * a.ldq, a.ldq, a.nsum.data() + i * units, cs.data(), units};
#if defined(DSV3_HAVE_X86_ISAS)  // elsewhere int8_gemm_fits is false and nothing gets here
      int8_micro_avx512(strip, units, panels.data() + p * panel_bytes, y + i * ldy + jp, ldy, m, nr);
#endif
    }
  }
}

}  // namespace

bool int8_dot_available() {
#if defined(DSV3_HAVE_X86_ISAS)
  return std::strcmp(quant_kernels().name, "avx512") == 0;  // the avx512 table is chosen only with VNNI
#else
  return false;
#endif
}

bool int8_gemm_fits(const Weight& w) {
  // A panel of kInt8NR weight rows shares one row of block scales, so the weight's scale blocks
  // must be square (128x128 INT8); GGUF Q8_0 has one scale per row and 32 columns
  // (block_rows = 1) and stays on the row-widening path.
  return w.dtype == DType::I8 && !w.int4 && !(w.int8 && w.int8->tiled) && w.block_rows == w.block &&
         w.block % kInt8NR == 0 &&
         w.row0 % kInt8NR == 0 && int8_dot_available();
}

void int8_gemm(float* y, const float* x, int64_t n, const Weight& w) {
  // Packing a panel costs about as much as multiplying it by a few dozen rows, so each task
  // packs its 128 weight rows once and runs its share of the input rows against them; tasks:
  // weight tiles, split into row groups only when there are fewer tiles than threads (a
  // 256-row expert on 2 threads: 2 tasks, each tile packed once; 2.9-7% less CPU time at pp512
  // than twice as many tasks, two runs each).
  const int64_t N = w.rows, tile_rows = kPanelsPerTile * kInt8NR;
  const int64_t n_tiles = (N + tile_rows - 1) / tile_rows;
  const bool parallel = double(n) * double(N) * double(w.cols) >= double(1 << 20);
  const int64_t threads = parallel ? team_threads() : 1;
  const int64_t m_groups =
      std::min((n + kInt8MR - 1) / kInt8MR, std::max<int64_t>(1, (threads + n_tiles - 1) / n_tiles));
  const int64_t m_per = round_up((n + m_groups - 1) / m_groups, kInt8MR);
  thread_local Int8Acts acts;
  acts.resize(n, w.cols);
  Int8Acts& a = acts;  // the workers share the caller's buffers
#pragma omp parallel if (parallel)
  {
    std::vector<uint8_t> panels;
    std::vector<float> cs;
#if defined(DSV3_HAVE_X86_ISAS)
#pragma omp for schedule(static)
    for (int64_t b = 0; b < (n + kInt8MR - 1) / kInt8MR; ++b) {  // rows rounded in parallel
      const int64_t i0 = b * kInt8MR, m = std::min<int64_t>(kInt8MR, n - i0);
      int8_quantize_rows_avx512(a.q.data() + i0 * a.ldq, a.d.data() + i0 * a.units, a.nsum.data() + i0 * a.units,
                                x + i0 * w.cols, m, w.cols, a.ldq);
    }
#endif
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t t = 0; t < n_tiles; ++t)
      for (int64_t g = 0; g < m_groups; ++g) {
        const int64_t j0 = t * tile_rows, i0 = g * m_per, i1 = std::min(n, i0 + m_per);
        if (i0 < i1) tile(y, N, a, w, j0, std::min(tile_rows, N - j0), i0, i1, panels, cs);
      }
  }
}

double int8_burn_ops(int64_t iters) {
#if defined(DSV3_HAVE_X86_ISAS)
  if (int8_dot_available()) return int8_burn_avx512(iters);
#endif
  (void)iters;
  return 0;
}

int64_t int8_burn_ops_per_iter() { return kInt8BurnOpsPerIter; }

}  // namespace dsv3
