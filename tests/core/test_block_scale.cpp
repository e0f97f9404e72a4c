// The block tiling shared by the FP8 and block-INT8 weight formats (core/block_scale.h): the
// same tiles and scales for both, partial edge tiles, an all-zero tile, each tile's largest
// magnitude on the code range's end, and the round trip within half a code step.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/fp8_blocks.h"
#include "core/int_quant.h"

namespace dsv3 {
namespace {

TEST(BlockScale, Int8TilesMatchFp8TilesAndRoundTripWithinHalfAStep) {
  const int64_t R = 130, C = 260, B = 128;  // 2x3 tiles, partial at both edges
  std::mt19937 rng(9);
  std::normal_distribution<float> nd(0.0f, 0.5f);
  std::vector<float> w(size_t(R * C));
  for (auto& v : w) v = nd(rng);
  for (int64_t r = 128; r < R; ++r)
    for (int64_t c = 0; c < 128; ++c) w[size_t(r * C + c)] = 0.0f;  // an all-zero edge tile (index 3)
  const Int8Blocks q = int8_encode_blocks(w.data(), R, C, B);
  const Fp8Blocks f = fp8_encode_blocks(w.data(), R, C, B);
  ASSERT_EQ(q.scale_inv.size(), 6u);
  EXPECT_EQ(q.scale_inv[3], 1.0f);
  for (size_t b = 0; b < 6; ++b) {
    if (b == 3) continue;
    // Both formats' scales are the tile's max-abs over their code maximum.
    EXPECT_FLOAT_EQ(q.scale_inv[b] * 127.0f, f.scale_inv[b] * kFp8E4M3Max) << b;
  }
  std::vector<float> back(w.size());
  int8_decode_blocks(q, R, C, B, back.data());
  int top = 0;
  for (int64_t i = 0; i < R * C; ++i) {
    const int64_t r = i / C, c = i % C;
    const float scale = q.scale_inv[size_t((r / B) * 3 + c / B)];
    ASSERT_LE(std::fabs(back[size_t(i)] - w[size_t(i)]), 0.5f * scale * 1.0001f) << i;
    if (r < 128 && c < 128) top = std::max(top, std::abs(int(q.codes[size_t(i)])));
    if (r >= 128 && c < 128) ASSERT_EQ(q.codes[size_t(i)], 0) << i;
  }
  EXPECT_EQ(top, 127);  // the first tile's largest magnitude lands on the end of the code range
}

}  // namespace
}  // namespace dsv3
