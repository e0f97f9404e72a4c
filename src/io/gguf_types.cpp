#include "io/gguf_types.h"

#include <cstring>

#include "core/dtype.h"
#include "core/kquant_blocks.h"
#include "core/error.h"

namespace dsv3 {

namespace {

uint16_t u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
float half(const uint8_t* p) { return f16_to_f32(u16(p)); }

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

// Q5_0: f16 d, u8 qh[4] (bit l of the little-endian word: the fifth bit of value l), u8 q[16] as
// Q4_0. c[l] = q_l - 16, in [-16, 15].
void q5_0_codes(const uint8_t* b, int8_t* c) {
  const uint32_t qh = uint32_t(b[2]) | uint32_t(b[3]) << 8 | uint32_t(b[4]) << 16 | uint32_t(b[5]) << 24;
  for (int l = 0; l < 16; ++l) {
    c[l] = int8_t(int((b[6 + l] & 0xF) | ((qh >> l) & 1) << 4) - 16);
    c[l + 16] = int8_t(int((b[6 + l] >> 4) | ((qh >> (l + 16)) & 1) << 4) - 16);
  }
}

void q5_0(const uint8_t* b, float* y) {
  const float d = half(b);
  int8_t c[32];
  q5_0_codes(b, c);
  for (int l = 0; l < 32; ++l) y[l] = d * float(c[l]);
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
      case GgmlType::Q4_K: dequantize_q4_5_k(in, false, out); break;
      case GgmlType::Q5_K: dequantize_q4_5_k(in, true, out); break;
      case GgmlType::Q6_K: dequantize_q6_k(in, out); break;
    }
  }
}

void ggml_q5_0_to_q8_0(const uint8_t* in, uint8_t* out, int64_t n) {
  for (int64_t i = 0; i < n / 32; ++i, in += 22, out += 34) {
    std::memcpy(out, in, 2);  // the same f16 d
    q5_0_codes(in, reinterpret_cast<int8_t*>(out + 2));
  }
}

}  // namespace dsv3
