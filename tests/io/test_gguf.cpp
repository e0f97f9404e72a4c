// GGUF: files made by GgufWriter read back (metadata of every kind, F32/F16/BF16/Q8_0/Q4_0),
// the K-quant block layouts against values built by hand from their description, and damaged
// or truncated files rejected with one line naming the tensor and type.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/dtype.h"
#include "core/error.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::random_vec;

GgufContents parse(const std::string& image) {
  return parse_gguf(reinterpret_cast<const uint8_t*>(image.data()), image.size(), "t.gguf");
}

std::string small_file() {
  GgufWriter w;
  w.add_string("general.architecture", "deepseek2");
  w.add_u32("deepseek2.block_count", 3);
  w.add_f32("deepseek2.rope.freq_base", 10000.0f);
  w.add_bool("deepseek2.expert_weights_norm", true);
  w.add_strings("tokenizer.ggml.tokens", {"a", "b", "<eos>"});
  w.add_i32s("tokenizer.ggml.token_type", {1, 1, 3});
  const auto x = random_vec(64, 1);
  const auto q8 = ggml_quantize_q8_0(x.data(), 64);
  w.add_tensor("blk.0.attn_q_a.weight", GgmlType::Q8_0, {32, 2}, q8.data(), q8.size());
  w.add_tensor("output_norm.weight", GgmlType::F32, {5}, x.data(), 20);
  return w.image();
}

TEST(Gguf, MetadataAndTensorsReadBack) {
  const std::string image = small_file();
  const GgufContents c = parse(image);
  EXPECT_EQ(c.version, 3u);
  EXPECT_EQ(c.metadata.at("general.architecture").s, "deepseek2");
  EXPECT_EQ(c.metadata.at("deepseek2.block_count").i, 3);
  EXPECT_FLOAT_EQ(float(c.metadata.at("deepseek2.rope.freq_base").f), 10000.0f);
  EXPECT_EQ(c.metadata.at("deepseek2.expert_weights_norm").i, 1);
  ASSERT_EQ(c.metadata.at("tokenizer.ggml.tokens").items.size(), 3u);
  EXPECT_EQ(c.metadata.at("tokenizer.ggml.tokens").items[2].s, "<eos>");
  EXPECT_EQ(c.metadata.at("tokenizer.ggml.token_type").items[2].i, 3);
  ASSERT_EQ(c.tensors.size(), 2u);
  EXPECT_EQ(c.tensors[0].ne, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(c.tensors[0].nbytes, 68u);
  EXPECT_EQ((c.tensors[1].data - reinterpret_cast<const uint8_t*>(image.data())) % 32, 0);
  const auto x = random_vec(64, 1);
  EXPECT_EQ(gguf_to_f32(c.tensors[1]), std::vector<float>(x.begin(), x.begin() + 5));
}

TEST(Gguf, PlainAndSimpleBlockTypesDequantize) {
  const auto x = random_vec(256, 2);
  std::vector<uint16_t> h(256), b(256);
  for (size_t i = 0; i < 256; ++i) h[i] = f32_to_f16(x[i]), b[i] = f32_to_bf16(x[i]);
  const auto q8 = ggml_quantize_q8_0(x.data(), 256), q4 = ggml_quantize_q4_0(x.data(), 256);
  GgufWriter w;
  w.add_tensor("f16", GgmlType::F16, {256}, h.data(), 512);
  w.add_tensor("bf16", GgmlType::BF16, {256}, b.data(), 512);
  w.add_tensor("q8", GgmlType::Q8_0, {256}, q8.data(), q8.size());
  w.add_tensor("q4", GgmlType::Q4_0, {256}, q4.data(), q4.size());
  const std::string image = w.image();
  const GgufContents c = parse(image);
  const auto f16 = gguf_to_f32(c.tensors[0]), bf16 = gguf_to_f32(c.tensors[1]);
  const auto y8 = gguf_to_f32(c.tensors[2]), y4 = gguf_to_f32(c.tensors[3]);
  for (size_t i = 0; i < 256; ++i) {
    EXPECT_EQ(f16[i], f16_to_f32(h[i]));
    EXPECT_EQ(bf16[i], bf16_to_f32(b[i]));
    // Q8_0: d = f16 at the block start, code = int8 at byte 2 + l.
    const uint8_t* blk8 = q8.data() + 34 * (i / 32);
    const float d8 = f16_to_f32(uint16_t(blk8[0] | blk8[1] << 8));
    EXPECT_EQ(y8[i], d8 * float(int8_t(blk8[2 + i % 32])));
    EXPECT_LE(std::fabs(y8[i] - x[i]), 0.5f * d8 * 1.01f + 1e-3f * std::fabs(x[i]));
    // Q4_0: value l < 16 in the low nibble of byte 2 + l, value l + 16 in its high nibble.
    const uint8_t* blk4 = q4.data() + 18 * (i / 32);
    const float d4 = f16_to_f32(uint16_t(blk4[0] | blk4[1] << 8));
    const int l = int(i % 32), nib = l < 16 ? blk4[2 + l] & 0xF : blk4[2 + l - 16] >> 4;
    EXPECT_EQ(y4[i], d4 * float(nib - 8));
    EXPECT_LE(std::fabs(y4[i] - x[i]), std::fabs(d4) * 1.01f);
  }
}

// Q5_0 (two random blocks): value l < 16 from the low nibble of byte 6 + l, l ≥ 16 from the high
// nibble of byte 6 + l - 16, the fifth bit from bit l of the 32-bit little-endian qh at byte 2.
TEST(Gguf, Q5_0BlocksFollowTheirLayout) {
  std::mt19937 rng(4);
  std::vector<uint8_t> blk(44);
  for (auto& v : blk) v = uint8_t(rng());
  for (int b = 0; b < 2; ++b) {
    const uint16_t h = f32_to_f16(b ? -0.75f : 0.5f);
    blk[size_t(22 * b)] = uint8_t(h), blk[size_t(22 * b + 1)] = uint8_t(h >> 8);
  }
  GgufWriter w;
  w.add_tensor("q5", GgmlType::Q5_0, {64}, blk.data(), blk.size());
  const auto y = gguf_to_f32(parse(w.image()).tensors[0]);
  for (int i = 0; i < 64; ++i) {
    const uint8_t* b = blk.data() + 22 * (i / 32);
    const int l = i % 32, nib = l < 16 ? b[6 + l] & 0xF : b[6 + l - 16] >> 4, hi = (b[2 + l / 8] >> (l % 8)) & 1;
    EXPECT_EQ(y[size_t(i)], (i < 32 ? 0.5f : -0.75f) * float(nib + 16 * hi - 16)) << i;
  }
  // The binder keeps Q5_0 matrices as Q8_0 blocks (io/gguf_types.h): the same values exactly.
  std::vector<uint8_t> q8(68);
  ggml_q5_0_to_q8_0(blk.data(), q8.data(), 64);
  std::vector<float> y8(64);
  ggml_dequantize(GgmlType::Q8_0, q8.data(), y8.data(), 64);
  EXPECT_EQ(y8, y);
}

// One super-block of a K-quant with every scale and min distinct (6-bit values up to 63, so the
// split high bits are exercised) and random codes; expected values from the layout description.
TEST(Gguf, KQuantBlocksFollowTheirLayout) {
  std::mt19937 rng(3);
  std::vector<uint8_t> blk(210);
  for (auto& v : blk) v = uint8_t(rng());
  const float d = 0.5f, dmin = 0.25f;
  const auto put_half = [&](size_t at, float v) { const uint16_t h = f32_to_f16(v); blk[at] = uint8_t(h), blk[at + 1] = uint8_t(h >> 8); };
  int sc[8], mn[8];
  uint8_t scales[12] = {};
  for (int j = 0; j < 8; ++j) {
    sc[j] = 10 + 7 * j, mn[j] = 63 - 5 * j;
    if (j < 4) {
      scales[j] |= uint8_t(sc[j]), scales[j + 4] |= uint8_t(mn[j]);
    } else {  // low 4 bits in byte j + 4, high 2 bits on top of bytes j - 4 (scale) and j (min)
      scales[j + 4] = uint8_t((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
      scales[j - 4] |= uint8_t((sc[j] >> 4) << 6);
      scales[j] |= uint8_t((mn[j] >> 4) << 6);
    }
  }
  for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q5_K}) {
    put_half(0, d), put_half(2, dmin);
    std::copy(scales, scales + 12, blk.begin() + 4);
    const bool q5 = type == GgmlType::Q5_K;
    const uint8_t* qh = blk.data() + 16;
    const uint8_t* qs = blk.data() + (q5 ? 48 : 16);
    std::vector<float> y(256);
    ggml_dequantize(type, blk.data(), y.data(), 256);
    for (int i = 0; i < 256; ++i) {
      const int p = i / 32, l = i % 32;  // part p: bytes 32·(p/2) .. +32, low nibble for even p
      int q = p % 2 ? qs[32 * (p / 2) + l] >> 4 : qs[32 * (p / 2) + l] & 0xF;
      if (q5) q += ((qh[l] >> p) & 1) * 16;
      ASSERT_EQ(y[size_t(i)], d * float(sc[p]) * float(q) - dmin * float(mn[p])) << ggml_type_name(uint32_t(type)) << " " << i;
    }
  }
  put_half(208, d);
  std::vector<float> y(256);
  ggml_dequantize(GgmlType::Q6_K, blk.data(), y.data(), 256);
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, k = (i % 128) / 32, l = i % 32;  // half h, quarter k
    const uint8_t lo = blk[size_t(64 * h + l + 32 * (k % 2))];
    const int q = ((k / 2 ? lo >> 4 : lo & 0xF) | (((blk[size_t(128 + 32 * h + l)] >> (2 * k)) & 3) << 4)) - 32;
    const int8_t s = int8_t(blk[size_t(192 + 8 * h + 2 * k + l / 16)]);
    ASSERT_EQ(y[size_t(i)], d * float(s) * float(q)) << "Q6_K " << i;
  }
}

TEST(Gguf, EveryTruncationIsOneClearError) {
  const std::string image = small_file();
  for (size_t n = 0; n < image.size(); ++n) {
    try {
      parse(image.substr(0, n));
      FAIL() << "accepted a file cut at " << n;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      EXPECT_EQ(std::string(e.what()).rfind("t.gguf: ", 0), 0u) << e.what();
    }
  }
  try {
    parse(image.substr(0, image.size() - 1));
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "t.gguf: tensor 'output_norm.weight' (F32) data ends beyond the file (truncated GGUF?)");
  }
}

TEST(Gguf, UnsupportedTypesAndBadHeadersNameWhatIsWrong) {
  GgufWriter w;
  const uint8_t bytes[20] = {};
  w.add_tensor("blk.0.ffn_down.weight", GgmlType(23), {32}, bytes, 20);
  EXPECT_THROW(
      {
        try {
          parse(w.image());
        } catch (const Error& e) {
          EXPECT_STREQ(e.what(), "t.gguf: tensor 'blk.0.ffn_down.weight' has ggml type 23, which dsv3 does not read");
          throw;
        }
      },
      Error);
  GgufWriter odd;
  odd.add_tensor("x", GgmlType::Q8_0, {40}, bytes, 20);  // 40 values: not whole 32-value blocks
  EXPECT_THROW(parse(odd.image()), Error);
  std::string bad = small_file();
  bad[4] = 7;  // version
  EXPECT_THROW(parse(bad), Error);
  EXPECT_THROW(parse("GGML"), Error);
}

}  // namespace
}  // namespace dsv3
