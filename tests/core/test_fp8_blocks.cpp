// The stored FP8 weight format: codes, one scale per 128x128 block, partial edge blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/fp8_blocks.h"

namespace dsv3 {
namespace {

TEST(Fp8Blocks, ScalesAreBlockMaxOver448AndTheMaxEncodesAs448) {
  const int64_t R = 200, C = 300, B = 128;  // 2x3 blocks, partial at both edges
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(size_t(R * C));
  for (auto& v : w) v = nd(rng);
  for (int64_t r = 0; r < B; ++r)
    for (int64_t c = B; c < 2 * B; ++c) w[size_t(r * C + c)] = 0.0f;  // an all-zero block
  const Fp8Blocks q = fp8_encode_blocks(w.data(), R, C, B);
  ASSERT_EQ(q.scale_inv.size(), 6u);
  EXPECT_EQ(q.scale_inv[1], 1.0f);  // the zero block
  for (int64_t br = 0; br < 2; ++br)
    for (int64_t bc = 0; bc < 3; ++bc) {
      float amax = 0;
      uint8_t top = 0;
      for (int64_t r = br * B; r < std::min(R, (br + 1) * B); ++r)
        for (int64_t c = bc * B; c < std::min(C, (bc + 1) * B); ++c) {
          amax = std::max(amax, std::fabs(w[size_t(r * C + c)]));
          top = std::max<uint8_t>(top, q.codes[size_t(r * C + c)] & 0x7f);
        }
      if (amax == 0) continue;
      EXPECT_EQ(q.scale_inv[size_t(br * 3 + bc)], amax / 448.0f);
      EXPECT_EQ(fp8_e4m3_to_f32(top), 448.0f);
    }
  std::vector<float> back(w.size());
  fp8_decode_blocks(q, R, C, B, back.data());
  for (size_t i = 0; i < w.size(); ++i) {
    const float scale = q.scale_inv[size_t((int64_t(i) / C / B) * 3 + (int64_t(i) % C) / B)];
    // Three mantissa bits: within half a step of 2^-3 of the value's binade, or of the subnormal step.
    EXPECT_LE(std::fabs(back[i] - w[i]), std::max(std::fabs(w[i]) * 0.0625f, scale * 0x1p-10f) * 1.0001f) << i;
  }
}

TEST(Fp8Blocks, RepresentableValuesRoundTripExactly) {
  // amax = 448 * 2^-5 makes the scale exactly 2^-5, so E4M3 values times it are exact.
  const int64_t R = 3, C = 130, B = 128;
  std::vector<float> w(size_t(R * C));
  for (size_t i = 0; i < w.size(); ++i) w[i] = fp8_e4m3_to_f32(uint8_t(i % 126)) * 0x1p-5f * (i % 2 ? -1.0f : 1.0f);
  w[0] = 448.0f * 0x1p-5f;
  w[128] = 448.0f * 0x1p-5f;  // the second column block's max too
  const Fp8Blocks q = fp8_encode_blocks(w.data(), R, C, B);
  std::vector<float> back(w.size());
  fp8_decode_blocks(q, R, C, B, back.data());
  for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(back[i], w[i]) << i;
}

}  // namespace
}  // namespace dsv3
