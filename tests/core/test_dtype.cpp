// Scalar conversions: exact widening, round-to-nearest-even narrowing, FP8 saturation.
#include <gtest/gtest.h>

#include <cmath>

#include "core/dtype.h"

namespace dsv3 {
namespace {

TEST(Fp8E4M3, KnownCodes) {
  EXPECT_EQ(fp8_e4m3_to_f32(0x00), 0.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0f);       // exponent 7 = bias
  EXPECT_EQ(fp8_e4m3_to_f32(0x7E), 448.0f);     // the largest finite value
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(0xB8), -1.0f);
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7F)));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0xFF)));
}

TEST(Fp8E4M3, EveryFiniteCodeRoundTrips) {
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) continue;
    const float v = fp8_e4m3_to_f32(uint8_t(c));
    const uint8_t back = f32_to_fp8_e4m3(v);
    EXPECT_EQ(fp8_e4m3_to_f32(back), v) << "code " << c;
  }
}

TEST(Fp8E4M3, RoundsToNearestEvenAndSaturates) {
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(1.0625f)), 1.0f);    // halfway 1 and 1.125: even wins
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(1.1875f)), 1.25f);   // halfway 1.125 and 1.25: even wins
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(1.07f)), 1.125f);
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(1000.0f)), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(-1e30f)), -448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(INFINITY)), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(std::ldexp(1.0f, -11))), 0.0f);  // below half the min subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(std::ldexp(3.0f, -10))), std::ldexp(1.0f, -8));  // tie -> even
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f)), 1.0f);
  const float halfway = 1.0f + std::ldexp(1.0f, -8);  // between 1 and 1 + 2^-7
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(halfway)), 1.0f);
  const float above = 1.0f + std::ldexp(3.0f, -8);    // between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(above)), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(F16, EveryCodeRoundTrips) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const float v = f16_to_f32(uint16_t(c));
    if (std::isnan(v)) continue;
    EXPECT_EQ(f32_to_f16(v), uint16_t(c)) << c;
  }
}

TEST(DTypeNames, RoundTrip) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F8_E4M3, DType::I64}) {
    DType back;
    ASSERT_TRUE(dtype_from_name(dtype_name(t), &back));
    EXPECT_EQ(back, t);
  }
  DType x;
  EXPECT_FALSE(dtype_from_name("F8_E5M2", &x));
}

}  // namespace
}  // namespace dsv3
