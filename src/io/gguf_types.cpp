#include "io/gguf_types.h"

#include <cstring>

#include "core/dtype.h"
#include "core/error.h"

namespace dsv3 {

namespace {

uint16_t u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
float half(const uint8_t* p) { return f16_to_f32(u16(p)); }

// Scale and min of 32-value part j (0..7) of a Q4_K/Q5_K block: 6 bits each, the first four
// pairs in the low 6 bits of bytes j and j+4, the last four split over bytes j+4 and the top
// 2 bits of bytes j-4 and j.
void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void q8_0(const uint8_t* b, float* y) {
  const float d = half(b);
  for (int l = 0; l < 32; ++l) y[l] = d * float(int8_t(b[2 + l]));
}

void q4_0(const uint8_t* b, float* y) {
  const float d = half(b);
  for (int l = 0; l < 16; ++l) {
    y[l] = d * float((b[2 + l] & 0xF) - 8);
    y[l + 16] = d * float((b[2 + l] >> 4) - 8);
  }
}

// Q5_0: f16 d, u8 qh[4] (bit l of the little-endian word: the fifth bit of value l), u8 q[16] as Q4_0.
void q5_0(const uint8_t* b, float* y) {
  const float d = half(b);
  const uint32_t qh = uint32_t(b[2]) | uint32_t(b[3]) << 8 | uint32_t(b[4]) << 16 | uint32_t(b[5]) << 24;
  for (int l = 0; l < 16; ++l) {
    y[l] = d * float(int((b[6 + l] & 0xF) | ((qh >> l) & 1) << 4) - 16);
    y[l + 16] = d * float(int((b[6 + l] >> 4) | ((qh >> (l + 16)) & 1) << 4) - 16);
  }
}

// Q4_K (qh == nullptr) and Q5_K: d, dmin, scales[12], [qh[32]], q[128].
void qk_4_5(const uint8_t* b, const uint8_t* scales, const uint8_t* qh, const uint8_t* q, float* y) {
  const float d = half(b), dmin = half(b + 2);
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

void q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half(b + 208);
  for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8, y += 128)
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      y[l] = d * sc[is] * float(((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
      y[l + 32] = d * sc[is + 2] * float(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      y[l + 64] = d * sc[is + 4] * float(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      y[l + 96] = d * sc[is + 6] * float(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
}

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t type) {
  static const GgmlTypeInfo f32{"F32", 1, 4}, f16{"F16", 1, 2}, bf16{"BF16", 1, 2}, q8_0i{"Q8_0", 32, 34},
      q4_0i{"Q4_0", 32, 18}, q5_0i{"Q5_0", 32, 22}, q4_k{"Q4_K", 256, 144}, q5_k{"Q5_K", 256, 176}, q6_ki{"Q6_K", 256, 210};
  switch (GgmlType(type)) {
    case GgmlType::F32: return &f32;
    case GgmlType::F16: return &f16;
    case GgmlType::BF16: return &bf16;
    case GgmlType::Q8_0: return &q8_0i;
    case GgmlType::Q4_0: return &q4_0i;
    case GgmlType::Q5_0: return &q5_0i;
    case GgmlType::Q4_K: return &q4_k;
    case GgmlType::Q5_K: return &q5_k;
    case GgmlType::Q6_K: return &q6_ki;
  }
  return nullptr;
}

std::string ggml_type_name(uint32_t type) {
  const GgmlTypeInfo* t = ggml_type_info(type);
  return t ? t->name : std::to_string(type);
}

void ggml_dequantize(GgmlType type, const uint8_t* in, float* out, int64_t n) {
  const GgmlTypeInfo& t = *ggml_type_info(uint32_t(type));
  for (int64_t i = 0; i < n / t.block; ++i, in += t.block_bytes, out += t.block) {
    switch (type) {
      case GgmlType::F32: std::memcpy(out, in, 4); break;
      case GgmlType::F16: out[0] = half(in); break;
      case GgmlType::BF16: out[0] = bf16_to_f32(u16(in)); break;
      case GgmlType::Q8_0: q8_0(in, out); break;
      case GgmlType::Q4_0: q4_0(in, out); break;
      case GgmlType::Q5_0: q5_0(in, out); break;
      case GgmlType::Q4_K: qk_4_5(in, in + 4, nullptr, in + 16, out); break;
      case GgmlType::Q5_K: qk_4_5(in, in + 4, in + 16, in + 48, out); break;
      case GgmlType::Q6_K: q6_k(in, out); break;
    }
  }
}

}  // namespace dsv3
