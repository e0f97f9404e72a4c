#include "core/dtype.h"

#include <array>
#include <cmath>

namespace dsv3 {

namespace {
struct NameSize {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr NameSize kTypes[] = {
    {DType::F32, "F32", 4},    {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F64, "F64", 8}, {DType::I64, "I64", 8},
    {DType::I32, "I32", 4},    {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},      {DType::BOOL, "BOOL", 1},
};

float decode_e4m3(uint8_t v) {
  const int sign = v >> 7, exp = (v >> 3) & 0xF, man = v & 7;
  if (exp == 15 && man == 7) return std::nanf("");
  const float mag = exp == 0 ? std::ldexp(float(man) / 8.0f, -6)
                             : std::ldexp(1.0f + float(man) / 8.0f, exp - 7);
  return sign ? -mag : mag;
}

std::array<float, 256> make_e4m3_table() {
  std::array<float, 256> t{};
  for (int i = 0; i < 256; ++i) t[size_t(i)] = decode_e4m3(uint8_t(i));
  return t;
}
}  // namespace

const std::array<float, 256> kFp8E4M3ToF32 = make_e4m3_table();

std::string_view dtype_name(DType t) {
  for (const auto& e : kTypes)
    if (e.type == t) return e.name;
  return "?";
}

bool dtype_from_name(std::string_view s, DType* out) {
  for (const auto& e : kTypes)
    if (e.name == s) {
      *out = e.type;
      return true;
    }
  return false;
}

size_t dtype_size(DType t) {
  for (const auto& e : kTypes)
    if (e.type == t) return e.size;
  return 0;
}

float f16_to_f32(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
  float mag;
  if (exp == 0) mag = std::ldexp(float(man), -24);
  else if (exp == 31) mag = man ? std::nanf("") : INFINITY;
  else mag = std::ldexp(float(man | 0x400), exp - 25);
  return sign ? -mag : mag;
}

uint16_t f32_to_f16(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  float a = std::fabs(f);
  if (std::isnan(f)) return 0x7E00;
  if (a >= 65520.0f) return sign | 0x7C00;           // rounds to infinity
  if (a < std::ldexp(1.0f, -14)) {                    // subnormal: step 2^-24
    return sign | uint16_t(std::nearbyint(a * std::ldexp(1.0f, 24)));
  }
  int e;
  std::frexp(a, &e);                                  // a = m * 2^e, m in [0.5, 1)
  int q = int(std::nearbyint(std::ldexp(a, 11 - e)));  // 11 significant bits
  if (q == 2048) { q = 1024; ++e; }
  return sign | uint16_t(((e + 14) << 10) | (q - 1024));
}

uint8_t f32_to_fp8_e4m3(float f) {
  if (std::isnan(f)) return 0x7F;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const float a = std::fabs(f);
  if (a >= kFp8E4M3Max) return sign | 0x7E;                // saturate, as the training recipe does
  if (a < std::ldexp(1.0f, -6)) {                     // subnormal: step 2^-9 (q == 8 is the min normal)
    return sign | uint8_t(std::nearbyint(std::ldexp(a, 9)));
  }
  int e;
  std::frexp(a, &e);                                  // a in [2^(e-1), 2^e)
  int q = int(std::nearbyint(std::ldexp(a, 4 - e)));  // 4 significant bits: q in [8, 16]
  int exp = e - 1;
  if (q == 16) { q = 8; ++exp; }
  const int code = ((exp + 7) << 3) | (q - 8);
  return sign | uint8_t(code > 0x7E ? 0x7E : code);
}

}  // namespace dsv3
