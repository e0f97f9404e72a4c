#include "kernels/quant_linear.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dtype.h"
#include "kernels/int8_gemm.h"
#include "kernels/int8_gemm_kernel.h"
#include "kernels/linear.h"
#include "kernels/quant_kernels.h"
#include "kernels/quant_weight.h"

namespace dsv3 {

namespace {

constexpr int64_t kRowChunk = 64;   // weight rows per task (an INT8 chunk of 7168 columns: 448 KB, in L2)
constexpr int64_t kPrefillTile = 4; // input rows per kernel call above 8 rows: the chunk stays in cache
constexpr int64_t kDecodeMaxRows = 8;
constexpr double kParallelMinOps = 1 << 20;  // as linear.cpp: below, one thread

QuantRows rows_from(const QuantActs& a, int64_t t0) {
  return {a.q.data() + t0 * a.ldq, a.d.data() + t0 * a.ldd, a.s.data() + t0 * a.ldd, a.ldq, a.ldd};
}

int64_t padded_cols(const Weight& w) {
  return w.int4 ? w.int4->padded_cols : (w.cols + kQuantUnit - 1) / kQuantUnit * kQuantUnit;
}

const int32_t* column_order(const Weight& w) {
  return w.int4 && !w.int4->perm.empty() ? w.int4->perm.data() : nullptr;
}

}  // namespace

bool quant_acts_fit(const QuantActs& a, const float* x, int64_t n, const Weight& w) {
  return a.x == x && a.n == n && a.cols == w.cols && a.ldq == padded_cols(w) && a.perm == column_order(w);
}

void quantize_for(QuantActs& a, const float* x, int64_t n, const Weight& w) {
  a.x = x;
  a.n = n;
  a.cols = w.cols;
  a.perm = column_order(w);
  a.ldq = padded_cols(w);
  a.ldd = a.ldq / kQuantUnit;
  a.q.resize(size_t(n * a.ldq));
  a.d.resize(size_t(n * a.ldd));
  a.s.resize(size_t(n * a.ldd));
  quantize_activations(a.q.data(), a.d.data(), a.s.data(), x, n, w.cols, a.ldq, a.perm);
}

bool quant_linear_t_tile(float* y, int64_t ldy, const float* x, int64_t n, const Weight& w, int64_t c0, int64_t nc) {
  const QuantKernels& k = quant_kernels();
  const int64_t R = w.rows;
  if (w.dtype == DType::I8 && !(w.int8 && w.int8->tiled)) {
    k.gemv_t_i8(y, ldy, x, R, n, reinterpret_cast<const int8_t*>(w.row_ptr(0)), w.cols, w.scale_inv, w.scale_cols,
                w.row0, w.block_rows, R, c0, nc, w.block);
    return true;
  }
  if (!w.int4 || !w.int4->perm.empty() || w.int4->tiled) return false;
  const Int4Matrix& m = *w.int4;
  k.gemv_t_i4(y, ldy, x, R, n, m.packed.data() + w.row0 * m.row_bytes(), m.row_bytes(),
              m.dm.data() + w.row0 * 2 * m.groups(), 2 * m.groups(), R, c0, nc, m.group);
  return true;
}

namespace {

// Rows [row, row + nr) of a matrix in 16-row tiles (INT4 or Q8_0) for nt input rows, run(y, ldy,
// first, count) computing whole tiles: straight into y; a range that starts or ends inside a
// tile (a row slice, the padded last tile) computes its tiles into a buffer and copies the rows
// asked for (each row's sum is the same either way).
template <typename Run>
void tile_rows(float* y, int64_t ldy, int64_t nt, int64_t row, int64_t nr, Run run) {
  constexpr int64_t kTile = 16;
  static_assert(kTile == kInt4TileRows && kTile == kInt8TileRows);
  const int64_t first = row / kTile, end = (row + nr + kTile - 1) / kTile;
  if (row % kTile == 0 && nr % kTile == 0) return run(y, ldy, first, end - first);
  thread_local std::vector<float> buf;
  const int64_t ldb = (end - first) * kTile;
  buf.resize(size_t(nt * ldb));
  run(buf.data(), ldb, first, end - first);
  for (int64_t t = 0; t < nt; ++t) std::copy_n(buf.data() + t * ldb + row - first * kTile, nr, y + t * ldy);
}

}  // namespace

// Rows [r0, r0 + nr) of the weight for all n inputs, in tiles of input rows.
void quant_linear_rows(float* y, int64_t ldy, const QuantActs& a, const Weight& w, int64_t r0, int64_t nr) {
  const QuantKernels& k = quant_kernels();
  const int64_t n = a.n;
  // INT8 tiles (Q8_0, block-scaled) take every input row in one call: the kernel runs them 4 at a
  // time against one tile (16 rows x cols bytes, in L1 or L2) before the next tile.
  const bool all_rows = n <= kDecodeMaxRows || (w.int8 && w.int8->tiled);
  const int64_t tile = all_rows ? n : kPrefillTile;
  for (int64_t t0 = 0; t0 < n; t0 += tile) {
    const int64_t nt = std::min(tile, n - t0);
    float* yt = y + t0 * ldy;
    const QuantRows x = rows_from(a, t0);
    if (w.int4 && w.int4->tiled) {
      const Int4Matrix& m = *w.int4;
      tile_rows(yt + r0, ldy, nt, w.row0 + r0, nr, [&](float* yo, int64_t ldo, int64_t first, int64_t count) {
        k.gemv_i4_tiles(yo, ldo, x, nt, m.packed.data() + first * m.tile_bytes(), m.dm.data() + first * m.tile_halves(),
                        count, m.padded_cols, m.group);
      });
      continue;
    }
    if (w.int8 && w.int8->tiled) {
      const Int8Rows& m = *w.int8;
      tile_rows(yt + r0, ldy, nt, w.row0 + r0, nr, [&](float* yo, int64_t ldo, int64_t first, int64_t count) {
        if (m.block)
          k.gemv_i8_block_tiles(yo, ldo, x, nt, m.packed.data() + first * m.tile_bytes(), first, count, m.cols,
                                m.block_scales.data(), m.block_cols(), m.block);
        else
          k.gemv_i8_tiles(yo, ldo, x, nt, m.packed.data() + first * m.tile_bytes(),
                          m.d.data() + first * m.tile_halves(), count, m.cols);
      });
      continue;
    }
    if (w.int4) {
      const Int4Matrix& m = *w.int4;
      const int64_t r = w.row0 + r0;
      k.gemv_i4(yt + r0, ldy, rows_from(a, t0), nt, m.packed.data() + r * m.row_bytes(), m.row_bytes(),
                m.dm.data() + r * 2 * m.groups(), 2 * m.groups(), nr, m.padded_cols, m.group);
      continue;
    }
    if (w.block_rows == 1 && w.block == kQuantUnit) {  // GGUF Q8_0: every row its own scales
      k.gemv_i8_rows(yt + r0, ldy, rows_from(a, t0), nt, reinterpret_cast<const int8_t*>(w.row_ptr(r0)), w.cols, nr,
                     w.cols, w.scale_inv + (w.row0 + r0) * w.scale_cols, w.scale_cols);
      continue;
    }
    for (int64_t r = r0; r < r0 + nr;) {  // rows sharing one row of block scales
      const int64_t end = std::min(r0 + nr, ((w.row0 + r) / w.block_rows + 1) * w.block_rows - w.row0);
      const float* scales = w.scale_inv + ((w.row0 + r) / w.block_rows) * w.scale_cols;
      k.gemv_i8(yt + r, ldy, rows_from(a, t0), nt, reinterpret_cast<const int8_t*>(w.row_ptr(r)), w.cols, end - r,
                w.cols, scales, w.block);
      r = end;
    }
  }
}

bool is_int_quantized(const Weight& w) { return w.int4 != nullptr || w.dtype == DType::I8; }

void quantize_activations(int8_t* q, float* d, float* s, const float* x, int64_t n, int64_t k, int64_t padded,
                          const int32_t* perm) {
#if defined(DSV3_HAVE_X86_ISAS)
  if (int8_dot_available()) {  // the prefill GEMM's vectorized rounding: the same codes, bit for bit
    thread_local std::vector<float> gathered;
    thread_local std::vector<int32_t> nsum;
    if (perm) {  // act-order: packed column j is input column perm[j]
      gathered.resize(size_t(n * k));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < k; ++c) gathered[size_t(t * k + c)] = x[t * k + perm[c]];
      x = gathered.data();
    }
    const int64_t units = padded / kQuantUnit;
    nsum.resize(size_t(n * units));
    int8_quantize_rows_avx512(q, d, nsum.data(), x, n, k, padded);
    for (int64_t i = 0; i < n * units; ++i) s[i] = d[i] * float(nsum[size_t(i)] / -128);
    return;
  }
#endif
  quantize_activations_scalar(q, d, s, x, n, k, padded, perm);
}

void quantize_activations_scalar(int8_t* q, float* d, float* s, const float* x, int64_t n, int64_t k,
                                 int64_t padded, const int32_t* perm) {
  const int64_t units = padded / kQuantUnit;
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = x + t * k;
    for (int64_t u = 0; u < units; ++u) {
      float v[kQuantUnit], amax = 0.0f;
      for (int64_t j = 0; j < kQuantUnit; ++j) {
        const int64_t c = u * kQuantUnit + j;
        v[j] = c < k ? xt[perm ? perm[c] : c] : 0.0f;
        amax = std::max(amax, std::fabs(v[j]));
      }
      const float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      int32_t sum = 0;
      int8_t* qu = q + t * padded + u * kQuantUnit;
      for (int64_t j = 0; j < kQuantUnit; ++j) {
        qu[j] = int8_t(std::nearbyint(v[j] * inv));
        sum += qu[j];
      }
      d[t * units + u] = scale;
      s[t * units + u] = scale * float(sum);
    }
  }
}

void quant_linear(float* y, const float* x, int64_t n, const Weight& w) {
  if (n > kDecodeMaxRows && int8_gemm_fits(w)) return int8_gemm(y, x, n, w);  // prefill on VNNI
  const int64_t R = w.rows, C = w.cols;
  thread_local QuantActs a;
  quantize_for(a, x, n, w);
  const QuantActs& acts = a;  // the workers read the caller's buffers
  const int64_t chunks = row_chunk_count(R, kRowChunk);
#pragma omp parallel for schedule(static) if (double(n) * double(R) * double(C) >= kParallelMinOps)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t r0 = row_chunk_begin(R, ch, chunks), r1 = row_chunk_begin(R, ch + 1, chunks);
    if (r1 > r0) quant_linear_rows(y, R, acts, w, r0, r1 - r0);
  }
}

void quant_row_span_f32(float* out, const Weight& w, int64_t r, int64_t c0, int64_t nc) {
  // A span at a time per block (INT8) or per 32-column unit (INT4, which lies in one group and
  // one nibble half), so the inner loops vectorize: linear_t widens whole rows this way.
  if (w.int4 && (!w.int4->perm.empty() || w.int4->tiled)) {  // a value at a time (not on a decode path)
    for (int64_t c = c0; c < c0 + nc; ++c) out[c - c0] = w.int4->value(w.row0 + r, c);
    return;
  }
  if (w.int4) {
    const Int4Matrix& m = *w.int4;
    const int64_t row = w.row0 + r;
    for (int64_t c = c0; c < c0 + nc;) {
      const int64_t u = c / kQuantUnit, end = std::min(c0 + nc, (u + 1) * kQuantUnit);
      const uint8_t* bytes = m.packed.data() + row * m.row_bytes() + (u / 2) * kQuantUnit;
      const int shift = int(u % 2) * 4;
      const uint16_t* dm = m.dm.data() + 2 * (row * m.groups() + u * kQuantUnit / m.group);
      const float d = f16_to_f32(dm[0]), mz = f16_to_f32(dm[1]);
      const uint8_t* b = bytes + c % kQuantUnit;  // contiguous bytes, so the loop vectorizes
      float* o = out + (c - c0);
      for (int64_t i = 0; i < end - c; ++i) o[i] = int4_dequant((b[i] >> shift) & 0x0F, d, mz);
      c = end;
    }
    return;
  }
  if (w.int8 && w.int8->tiled) {  // a value at a time (embeddings, linear_t: not on a decode path)
    for (int64_t c = c0; c < c0 + nc; ++c) out[c - c0] = w.int8->value(w.row0 + r, c);
    return;
  }
  const int8_t* row = reinterpret_cast<const int8_t*>(w.row_ptr(r));
  const float* scales = w.scale_inv + ((w.row0 + r) / w.block_rows) * w.scale_cols;
  for (int64_t c = c0; c < c0 + nc;) {
    const int64_t end = std::min(c0 + nc, (c / w.block + 1) * w.block);
    const float s = scales[c / w.block];
    for (int64_t j = c; j < end; ++j) out[j - c0] = float(row[j]) * s;
    c = end;
  }
}

}  // namespace dsv3
