// The VNNI microkernel behind int8_gemm (int8_gemm_avx512.cpp, compiled with -mavx512vnni).
#pragma once
#include <cstdint>

namespace dsv3 {

// A weight panel: 32 rows, depth in quads of 4 columns, bp[q][j][4] = w_j[4q + b] + 128 (u8:
// vpdpbusd's unsigned operand), rows past the weight and columns past k hold 128 (w = 0).
// Activation rows: q (int8, units · 32 bytes, row i at q + i·ldq), nsum[i·ldu + u] = -128 ·
// Σ_{k∈u} q_i[k] (undoes the +128), cs[i·ldu + u] = d_i[u] · (the panel's weight block scale).
struct Int8Strip {
  const int8_t* q;
  int64_t ldq;
  const int32_t* nsum;
  const float* cs;
  int64_t ldu;
};

constexpr int kInt8MR = 6, kInt8NR = 32;

// c[m x n] (m <= kInt8MR, n <= kInt8NR, row stride ldc) = Σ_u cs[i][u] · Σ_{k∈u} q_i[k] · w_j[k].
void int8_micro_avx512(const Int8Strip& a, int64_t units, const uint8_t* bp, float* c, int64_t ldc, int m, int n);
// Packs weight rows rows[j] (nr <= 32 of them, k columns each) into a panel of `units` units.
void int8_pack_panel_avx512(uint8_t* bp, const int8_t* const* rows, int nr, int64_t k, int64_t units);
// x [n, k] rounded per 32-column unit exactly as quantize_activations does (q [n, ldq], d
// [n, ldq / 32], columns past k zero), with nsum = -128 · Σ_{k∈u} q instead of its s.
void int8_quantize_rows_avx512(int8_t* q, float* d, int32_t* nsum, const float* x, int64_t n, int64_t k,
                               int64_t ldq);
double int8_burn_avx512(int64_t iters);  // returns a value depending on every chain
constexpr int64_t kInt8BurnOpsPerIter = 12 * 16 * 4 * 2;  // 12 chains x 16 lanes x 4 byte pairs x 2

}  // namespace dsv3
