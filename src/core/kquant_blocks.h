// llama.cpp's K-quant super-blocks (256 values each), written from the published layouts
// (ggml-common.h), and their dequantization: the one definition of these formats' values, used
// by the GGUF reader (io/gguf_types) and by the kernels that keep the blocks quantized
// (kernels/kquant.h), so both give llama.cpp's values bit for bit.
//   Q4_K  144 bytes: f16 d, f16 dmin, u8 scales[12] (8 pairs of 6-bit scale/min), u8 q[128]
//         x = d · sc · q - dmin · m per 32 values; per 64 values 32 low then 32 high nibbles
//   Q5_K  176 bytes: as Q4_K with u8 qh[32] after the scales: the fifth bit of value l of
//         32-value part p is bit p of qh[l]
//   Q6_K  210 bytes: u8 ql[128], u8 qh[64], int8 scales[16], f16 d   x = d · sc · (q - 32) per 16
//         values; per 128 values (ql 64 bytes, qh 32 bytes) value l of quarter k (32 values) has
//         its low 4 bits in ql[l + 32·(k % 2)] (low nibble for k < 2) and its top 2 bits at
//         bit 2k of qh[l]
#pragma once
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace dsv3 {

constexpr int64_t kSuperBlock = 256;  // values per K-quant super-block
constexpr int64_t kQ4KBytes = 144, kQ5KBytes = 176, kQ6KBytes = 210;

inline float kquant_half(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return f16_to_f32(v);
}

// Scale and min of 32-value part j (0..7) of a Q4_K/Q5_K block: 6 bits each, the first four
// pairs in the low 6 bits of bytes j and j+4, the last four split over bytes j+4 and the top
// 2 bits of bytes j-4 and j.
inline void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q4_K (qh == nullptr) and Q5_K block b (d, dmin, scales[12], [qh[32]], q[128]) into y[256].
inline void dequantize_q4_5_k(const uint8_t* b, bool q5, float* y) {
  const uint8_t* scales = b + 4;
  const uint8_t* qh = q5 ? b + 16 : nullptr;
  const uint8_t* q = b + (q5 ? 48 : 16);
  const float d = kquant_half(b), dmin = kquant_half(b + 2);
  for (int p = 0; p < 8; p += 2, q += 32) {  // 64 values: low nibbles of 32 bytes, then high
    int sc0, m0, sc1, m1;
    scale_min_k4(p, scales, sc0, m0);
    scale_min_k4(p + 1, scales, sc1, m1);
    for (int l = 0; l < 32; ++l) {
      const int hi0 = qh ? ((qh[l] >> p) & 1) << 4 : 0, hi1 = qh ? ((qh[l] >> (p + 1)) & 1) << 4 : 0;
      y[32 * p + l] = d * float(sc0) * float((q[l] & 0xF) | hi0) - dmin * float(m0);
      y[32 * p + 32 + l] = d * float(sc1) * float((q[l] >> 4) | hi1) - dmin * float(m1);
    }
  }
}

// The code of value i (0..255) of Q4_K (0..15) or Q5_K (0..31) block b.
inline int q4_5_k_code(const uint8_t* b, bool q5, int i) {
  const int p = i / 32, l = i % 32;
  const uint8_t byte = b[(q5 ? 48 : 16) + 32 * (p / 2) + l];
  const int lo = p % 2 ? byte >> 4 : byte & 0xF;
  return q5 ? lo | (((b[16 + l] >> p) & 1) << 4) : lo;
}

// The 6-bit code (0..63) of value i (0..255) of Q6_K block b.
inline int q6_k_code(const uint8_t* b, int i) {
  const int h = i / 128, k = (i % 128) / 32, l = i % 32;
  const uint8_t lo = b[64 * h + l + 32 * (k % 2)];
  return (k / 2 ? lo >> 4 : lo & 0xF) | (((b[128 + 32 * h + l] >> (2 * k)) & 3) << 4);
}

inline int q6_k_scale(const uint8_t* b, int i) { return int8_t(b[192 + i / 16]); }  // of value i

// Q6_K block b into y[256] (q6_k_code's bits, a half block of 128 values at a time).
inline void dequantize_q6_k(const uint8_t* b, float* y) {
  const float d = kquant_half(b + 208);
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8, y += 128)
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      y[l] = d * float(sc[is]) * float(((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
      y[l + 32] = d * float(sc[is + 2]) * float(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      y[l + 64] = d * float(sc[is + 4]) * float(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      y[l + 96] = d * float(sc[is + 6]) * float(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
}

}  // namespace dsv3
