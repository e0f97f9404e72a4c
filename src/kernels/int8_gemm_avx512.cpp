// int8_gemm's microkernel on vpdpbusd (u8 × s8 → int32, four byte pairs per lane): the weight
// is the unsigned operand (stored code + 128), the activation the signed one, broadcast from
// memory; the +128 comes back out through nsum, which seeds every 32-column unit's accumulator.
// GCC 12's AVX-512 intrinsics give their unused pass-through operand as an uninitialized
// variable (_mm512_undefined_*), which -Wmaybe-uninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstring>

#include "kernels/int8_gemm_kernel.h"

namespace dsv3 {

namespace {

constexpr int64_t kUnit = 32, kQuadsPerUnit = kUnit / 4;

inline __mmask16 lane_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// MR rows x 32 weight rows: 2·MR int32 accumulators for the current unit, 2·MR float sums.
template <int MR>
void micro(const Int8Strip& a, int64_t units, const uint8_t* bp, float* c, int64_t ldc, int n) {
  __m512 f[MR][2];
  for (int i = 0; i < MR; ++i) f[i][0] = f[i][1] = _mm512_setzero_ps();
  for (int64_t u = 0; u < units; ++u) {
    __m512i s[MR][2];
    for (int i = 0; i < MR; ++i) s[i][0] = s[i][1] = _mm512_set1_epi32(a.nsum[i * a.ldu + u]);
    const uint8_t* b = bp + u * kQuadsPerUnit * 128;
    for (int64_t p = 0; p < kQuadsPerUnit; ++p) {
      const __m512i b0 = _mm512_loadu_si512(b + p * 128), b1 = _mm512_loadu_si512(b + p * 128 + 64);
      for (int i = 0; i < MR; ++i) {
        int32_t quad;
        std::memcpy(&quad, a.q + i * a.ldq + u * kUnit + 4 * p, 4);
        const __m512i x = _mm512_set1_epi32(quad);
        s[i][0] = _mm512_dpbusd_epi32(s[i][0], b0, x);
        s[i][1] = _mm512_dpbusd_epi32(s[i][1], b1, x);
      }
    }
    for (int i = 0; i < MR; ++i) {
      const __m512 scale = _mm512_set1_ps(a.cs[i * a.ldu + u]);
      f[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i][0]), scale, f[i][0]);
      f[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i][1]), scale, f[i][1]);
    }
  }
  const __mmask16 m0 = lane_mask(n), m1 = lane_mask(n - 16);
  for (int i = 0; i < MR; ++i) {
    _mm512_mask_storeu_ps(c + i * ldc, m0, f[i][0]);
    _mm512_mask_storeu_ps(c + i * ldc + 16, m1, f[i][1]);
  }
}

}  // namespace

void int8_micro_avx512(const Int8Strip& a, int64_t units, const uint8_t* bp, float* c, int64_t ldc, int m, int n) {
  switch (m) {
    case 1: return micro<1>(a, units, bp, c, ldc, n);
    case 2: return micro<2>(a, units, bp, c, ldc, n);
    case 3: return micro<3>(a, units, bp, c, ldc, n);
    case 4: return micro<4>(a, units, bp, c, ldc, n);
    case 5: return micro<5>(a, units, bp, c, ldc, n);
    default: return micro<6>(a, units, bp, c, ldc, n);
  }
}

void int8_pack_panel_avx512(uint8_t* bp, const int8_t* const* rows, int nr, int64_t k, int64_t units) {
  const int64_t quads = units * kQuadsPerUnit, full = k / 4;
  std::memset(bp, 0x80, size_t(quads * 128));
  for (int j = 0; j < nr; ++j) {
    const int8_t* w = rows[j];
    for (int64_t q = 0; q < full; ++q) {
      uint32_t v;
      std::memcpy(&v, w + 4 * q, 4);
      v ^= 0x80808080u;  // code + 128 in each byte
      std::memcpy(bp + q * 128 + j * 4, &v, 4);
    }
    for (int64_t col = full * 4; col < k; ++col) bp[(col / 4) * 128 + j * 4 + col % 4] = uint8_t(w[col] ^ 0x80);
  }
}

void int8_quantize_rows_avx512(int8_t* q, float* d, int32_t* nsum, const float* x, int64_t n, int64_t k,
                               int64_t ldq) {
  const int64_t units = ldq / kUnit;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t u = 0; u < units; ++u) {
      const int64_t c0 = u * kUnit;
      const __m512 v0 = _mm512_maskz_loadu_ps(lane_mask(k - c0), x + t * k + c0);
      const __m512 v1 = _mm512_maskz_loadu_ps(lane_mask(k - c0 - 16), x + t * k + c0 + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
      const float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;  // as quantize_activations
      const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, _mm512_set1_ps(inv)));  // nearest, ties to even
      const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, _mm512_set1_ps(inv)));
      int8_t* qu = q + t * ldq + c0;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qu), _mm512_cvtsepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qu + 16), _mm512_cvtsepi32_epi8(q1));
      d[t * units + u] = scale;
      nsum[t * units + u] = -128 * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

double int8_burn_avx512(int64_t iters) {
  __m512i acc[12];
  for (int c = 0; c < 12; ++c) acc[c] = _mm512_set1_epi32(c);
  const __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(-1);
  for (int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < 12; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
  __m512i s = acc[0];
  for (int c = 1; c < 12; ++c) s = _mm512_add_epi32(s, acc[c]);
  int32_t lanes[16];
  _mm512_storeu_si512(lanes, s);
  double total = 0;
  for (int32_t v : lanes) total += v;
  return total;
}

}  // namespace dsv3
