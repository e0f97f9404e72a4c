// GPTQ (asymmetric zeros, act-order g_idx) and AWQ (GEMM packing) matrices bound from
// safetensors fixtures written by scripts/make_quant_fixtures.py, which dequantizes them in
// plain Python from the formats' published descriptions: dsv3's repacked INT4 must give the
// same weights (up to the F16 rounding of the group offset m = -zero · d) and products.
// compressed-tensors W8A8 (int8 codes, per-channel BF16 scales) and 8-bit GPTQ must dequantize
// exactly.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/int_quant.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "kernels/linear.h"
#include <algorithm>
#include <filesystem>
#include <map>

#include "io/checkpoint.h"
#include "io/safetensors_writer.h"
#include "model/config.h"
#include "model/model.h"
#include "model/quant_bind.h"
#include "model/tensor_table.h"
#include "test_util.h"

namespace dsv3 {
namespace {

constexpr int64_t kOut = 16, kIn = 64;

QuantConfig config(const char* method) {
  QuantConfig q;
  q.method = method;
  q.bits = 4;
  q.group_size = 32;
  q.desc_act = true;
  return q;
}

// The Weight that linear() reads for m (as model/weights.cpp binds a 4-bit tensor).
Weight weight_of(const Int4Matrix& m) {
  Weight w;
  w.dtype = DType::U8;
  w.rows = m.rows;
  w.cols = m.cols;
  w.data = m.packed.data();
  w.int4 = &m;
  return w;
}

// The product through the kernels (activations rounded to int8 per 32 columns) against the
// expected weights in double.
void expect_product(const Weight& w, const std::vector<float>& expected) {
  std::vector<float> x(kIn), y(kOut);
  for (int64_t i = 0; i < kIn; ++i) x[size_t(i)] = std::sin(0.7f * float(i));
  linear(y.data(), x.data(), 1, w);
  for (int64_t o = 0; o < kOut; ++o) {
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < kIn; ++i) {
      ref += double(expected[size_t(o * kIn + i)]) * x[size_t(i)];
      mag += std::fabs(expected[size_t(o * kIn + i)]);
    }
    EXPECT_NEAR(y[size_t(o)], ref, mag * (1.0 / 127) + 1e-4) << o;  // half an activation step, twice
  }
}

void expect_same_weights(const Int4Matrix& m, const std::vector<float>& expected) {
  for (int64_t o = 0; o < kOut; ++o)
    for (int64_t i = 0; i < kIn; ++i) {
      const float e = expected[size_t(o * kIn + i)];
      ASSERT_NEAR(m.value(o, i), e, 0.1f * 15 * 0x1p-11f + 1e-6f) << o << "," << i;  // m's F16 rounding
    }
  expect_product(weight_of(m), expected);
}

TEST(QuantBind, GptqActOrderWithZerosMatchesTheIndependentDequantization) {
  const SafetensorsFile f(test::data_path("quant/gptq_act_order.safetensors"));
  const Int4Matrix m = bind_gptq(*f.find("w.qweight"), *f.find("w.qzeros"), *f.find("w.scales"), f.find("w.g_idx"), kOut,
                                 kIn, config("gptq"));
  EXPECT_FALSE(m.perm.empty());  // the fixture's g_idx is a real act-order permutation
  expect_same_weights(m, tensor_to_f32(*f.find("expected")));
}

TEST(QuantBind, AwqGemmPackingMatchesTheIndependentDequantization) {
  const SafetensorsFile f(test::data_path("quant/awq.safetensors"));
  const Int4Matrix m = bind_awq(*f.find("w.qweight"), *f.find("w.qzeros"), *f.find("w.scales"), kOut, kIn, config("awq"));
  EXPECT_TRUE(m.tiled);  // natural column order: the 16-row tiles (int4_tiles_pay)
  expect_same_weights(m, tensor_to_f32(*f.find("expected")));
}

// llama.cpp's Q4_0 blocks (f16 d, then byte l: value l low, l + 16 high) against d · (q - 8),
// dequantized here from the block layout, in the 16-row tiles the loader picks for every matrix
// but kv_b_proj (and the product through them, as expect_same_weights checks).
TEST(QuantBind, Q4_0BlocksAreTiledExactly) {
  constexpr int64_t R = 20, C = 1024, kBlockBytes = 18;
  std::vector<uint8_t> blocks(size_t(R * C / 32 * kBlockBytes));
  std::vector<float> want(size_t(R * C));
  uint32_t state = 7;
  for (int64_t b = 0; b < R * C / 32; ++b) {
    uint8_t* p = blocks.data() + b * kBlockBytes;
    const uint16_t d = uint16_t(0x2000 + (b * 37) % 0x1000);  // positive normal halves
    p[0] = uint8_t(d & 0xFF), p[1] = uint8_t(d >> 8);
    for (int l = 0; l < 16; ++l) {
      state = state * 1664525u + 1013904223u;
      p[2 + l] = uint8_t(state >> 24);
      want[size_t(b * 32 + l)] = f16_to_f32(d) * float((p[2 + l] & 15) - 8);
      want[size_t(b * 32 + l + 16)] = f16_to_f32(d) * float((p[2 + l] >> 4) - 8);
    }
  }
  EXPECT_FALSE(int4_from_q4_0(blocks.data(), R, C, "model.layers.0.self_attn.kv_b_proj.weight.q4_0").tiled);
  const Int4Matrix m = int4_from_q4_0(blocks.data(), R, C, "model.layers.0.mlp.experts.0.down_proj.weight.q4_0");
  ASSERT_TRUE(m.tiled);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) ASSERT_EQ(m.value(r, c), want[size_t(r * C + c)]) << r << "," << c;
  const Weight w = weight_of(m);
  std::vector<float> x(C), y(R), part(R - 3);
  for (int64_t i = 0; i < C; ++i) x[size_t(i)] = std::sin(0.3f * float(i));
  linear(y.data(), x.data(), 1, w);
  linear(part.data(), x.data(), 1, w.rows_slice(3, R - 3));  // starts inside the first tile
  for (int64_t o = 0; o < R; ++o) {
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < C; ++i) {
      ref += double(want[size_t(o * C + i)]) * x[size_t(i)];
      mag += std::fabs(want[size_t(o * C + i)]);
    }
    EXPECT_NEAR(y[size_t(o)], ref, mag * (1.0 / 127) + 1e-4) << o;
    if (o >= 3) {
      EXPECT_EQ(part[size_t(o - 3)], y[size_t(o)]) << o;
    }
  }
}

TEST(QuantBind, WrongTensorsAreOneClearLine) {
  const SafetensorsFile f(test::data_path("quant/gptq_act_order.safetensors"));
  try {
    bind_gptq(*f.find("w.qweight"), *f.find("w.qzeros"), *f.find("expected"), nullptr, kOut, kIn, config("gptq"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'expected' has dtype F32; expected F16"), std::string::npos) << e.what();
  }
  EXPECT_THROW(bind_awq(*f.find("w.qweight"), *f.find("w.qzeros"), *f.find("w.scales"), kOut, kIn, config("awq")), Error);
}

// 8-bit GPTQ: symmetric in natural order binds as Q8_0 rows for the INT8 kernels with exactly the
// fixture's values; zero points with act-order are dequantized exactly to float32.
TEST(QuantBind, Gptq8MatchesTheIndependentDequantization) {
  QuantConfig q = config("gptq");
  q.bits = 8;
  {
    const SafetensorsFile f(test::data_path("quant/gptq8_sym.safetensors"));
    const Gptq8 g = bind_gptq8(*f.find("w.qweight"), *f.find("w.qzeros"), *f.find("w.scales"), f.find("w.g_idx"), kOut,
                               kIn, q);
    ASSERT_TRUE(g.rows.has_value());
    EXPECT_TRUE(g.f32.empty());
    const std::vector<float> e = tensor_to_f32(*f.find("expected"));
    for (int64_t o = 0; o < kOut; ++o)
      for (int64_t i = 0; i < kIn; ++i)
        ASSERT_EQ(float(g.rows->code(o, i)) * g.rows->scale(o, i / 32), e[size_t(o * kIn + i)]) << o << "," << i;
    expect_product(int8_rows_weight(*g.rows), e);  // through the INT8 kernels
  }
  {
    const SafetensorsFile f(test::data_path("quant/gptq8_act_order.safetensors"));
    const Gptq8 g = bind_gptq8(*f.find("w.qweight"), *f.find("w.qzeros"), *f.find("w.scales"), f.find("w.g_idx"), kOut,
                               kIn, q);
    EXPECT_FALSE(g.rows.has_value());
    EXPECT_EQ(g.f32, tensor_to_f32(*f.find("expected")));
    // A g_idx naming a group that does not exist is one clear line, not a read out of bounds.
    std::vector<int32_t> bad(size_t(kIn), 0);
    bad[5] = 7;
    TensorInfo gi = *f.find("w.g_idx");
    gi.data = reinterpret_cast<const uint8_t*>(bad.data());
    try {
      bind_gptq8(*f.find("w.qweight"), *f.find("w.qzeros"), *f.find("w.scales"), &gi, kOut, kIn, q);
      ADD_FAILURE();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("g_idx[5] = 7 is not a group of 2"), std::string::npos) << e.what();
    }
  }
}

TEST(QuantBind, CompressedTensorsW8A8MatchesTheIndependentDequantization) {
  const SafetensorsFile f(test::data_path("quant/w8a8.safetensors"));
  const std::vector<float> w = dequantize_w8a8(*f.find("w.weight"), *f.find("w.weight_scale"),
                                               f.find("w.weight_zero_point"), kOut, kIn);
  EXPECT_EQ(w, tensor_to_f32(*f.find("expected")));
  // Per tensor: one scale for every row.
  TensorInfo one = *f.find("w.weight_scale");
  one.shape = {1};
  one.nbytes = 2;
  const std::vector<float> t = dequantize_w8a8(*f.find("w.weight"), one, nullptr, kOut, kIn);
  const std::vector<float> e = tensor_to_f32(*f.find("expected")), s = tensor_to_f32(*f.find("w.weight_scale"));
  for (int64_t c = 0; c < kIn; ++c) EXPECT_EQ(t[size_t(kIn + c)], e[size_t(kIn + c)] / s[1] * s[0]);
}

TEST(QuantBind, CompressedTensorsRefusesWhatItCannotRead) {
  const SafetensorsFile f(test::data_path("quant/w8a8.safetensors"));
  try {  // the scale of another shape
    dequantize_w8a8(*f.find("w.weight"), *f.find("expected"), nullptr, kOut, kIn);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'expected' has shape [16, 64], expected [16, 1] or [1]"), std::string::npos) << e.what();
  }
  TensorInfo zp = *f.find("w.weight_zero_point");
  std::vector<uint8_t> ones(16, 1);
  zp.data = ones.data();
  EXPECT_THROW(dequantize_w8a8(*f.find("w.weight"), *f.find("w.weight_scale"), &zp, kOut, kIn), Error);
  // quantization_config: int-quantized 8-bit symmetric only.
  const auto cfg = [](const std::string& format, int bits) {
    json j = read_json_file(test::model_path("v3-tiny") + "/config.json");
    j["quantization_config"] = {{"quant_method", "compressed-tensors"}, {"format", format},
                                {"config_groups", {{"group_0", {{"targets", {"Linear"}},
                                                                {"weights", {{"num_bits", bits}, {"type", "int"},
                                                                             {"symmetric", true}, {"strategy", "channel"}}}}}}}};
    return parse_config(j, "config.json");
  };
  EXPECT_EQ(cfg("int-quantized", 8).quant.method, "compressed-tensors");
  EXPECT_THROW(cfg("pack-quantized", 4), Error);
  EXPECT_THROW(cfg("int-quantized", 4), Error);
}

// v3-tiny rewritten with every linear matrix quantized by add(writer, spec, its float values)
// (the other tensors copied) and quantization_config `qc`, loaded from `dir`.
template <typename AddLinear>
std::unique_ptr<Model> load_requantized_tiny(const test::TempDir& dir, const json& qc, AddLinear add) {
  const std::string src = test::model_path("v3-tiny");
  const ModelConfig cfg = load_config(src + "/config.json");
  const Checkpoint ck(src);
  SafetensorsWriter w;
  const TensorTable table(cfg);
  for (const TensorSpec& t : table.tensors()) {
    const TensorInfo* in = ck.find(t.name);
    if (!in) continue;
    if (t.role == TensorRole::kLinear) add(w, t, tensor_to_f32(*in));
    else w.add(t.name, in->dtype, in->shape, in->data, in->nbytes);
  }
  w.write(dir.file("model.safetensors"));
  json j = read_json_file(src + "/config.json");
  j["quantization_config"] = qc;
  test::write_text(dir.file("config.json"), j.dump());
  return Model::load(dir.path());
}

// A whole checkpoint in the W8A8 layout (every linear matrix int8 per output channel, BF16
// scales) binds each matrix to exactly code x scale.
TEST(QuantBind, CompressedTensorsCheckpointBindsEveryMatrix) {
  const test::TempDir dir;
  std::map<std::string, std::vector<float>> want;
  const json qc = {{"quant_method", "compressed-tensors"}, {"format", "int-quantized"},
                   {"config_groups", {{"group_0", {{"targets", {"Linear"}},
                                                   {"weights", {{"num_bits", 8}, {"type", "int"},
                                                                {"symmetric", true}, {"strategy", "channel"}}}}}}},
                   {"ignore", {"lm_head"}}};
  const auto m = load_requantized_tiny(dir, qc, [&](SafetensorsWriter& w, const TensorSpec& t, const std::vector<float>& x) {
    const int64_t rows = t.shape[0], cols = t.shape[1];
    std::vector<int8_t> q(x.size());
    std::vector<uint16_t> scale(static_cast<size_t>(rows));
    std::vector<float>& deq = want[t.name];
    deq.resize(x.size());
    for (int64_t r = 0; r < rows; ++r) {
      float amax = 0;
      for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(x[size_t(r * cols + c)]));
      scale[size_t(r)] = f32_to_bf16(amax / 127);
      const float s = bf16_to_f32(scale[size_t(r)]);
      for (int64_t c = 0; c < cols; ++c) {
        const size_t i = size_t(r * cols + c);
        q[i] = int8_t(std::clamp(std::nearbyint(x[i] / s), -127.0f, 127.0f));
        deq[i] = float(q[i]) * s;
      }
    }
    w.add(t.name, DType::I8, t.shape, q.data(), q.size());
    w.add(t.name + "_scale", DType::BF16, {rows, 1}, scale.data(), scale.size() * 2);
  });
  ModelWeights mw = m->weights();
  size_t checked = 0;
  for_each_tensor(m->config(), mw,
                  {[&](const std::string& n, Weight& wt, TensorRole role) {
                     if (role != TensorRole::kLinear) return;
                     ASSERT_EQ(wt.dtype, DType::F32) << n;
                     const std::vector<float>& e = want.at(n);
                     EXPECT_TRUE(std::equal(e.begin(), e.end(), static_cast<const float*>(wt.data))) << n;
                     ++checked;
                   },
                   [](const std::string&, Vec&, TensorRole) {}});
  EXPECT_EQ(checked, want.size());
}

// A blockwise_int8 checkpoint (int8 codes with 128 x 128 float32 scales, the FP8 layout) binds
// every matrix but kv_b_proj as block-scaled 16-row tiles holding exactly code x scale, and
// kv_b_proj in place (its W_UK half is read transposed).
TEST(QuantBind, BlockwiseInt8BindsAsTilesButKvBProj) {
  const test::TempDir dir;
  std::map<std::string, std::vector<float>> want;
  const json qc = {{"quant_method", "blockwise_int8"}, {"weight_block_size", {128, 128}}};
  const auto m = load_requantized_tiny(dir, qc, [&](SafetensorsWriter& w, const TensorSpec& t, const std::vector<float>& x) {
    const int64_t rows = t.shape[0], cols = t.shape[1];
    const Int8Blocks q = int8_encode_blocks(x.data(), rows, cols, 128);
    std::vector<float>& deq = want[t.name];
    deq.resize(x.size());
    int8_decode_blocks(q, rows, cols, 128, deq.data());
    w.add(t.name, DType::I8, t.shape, q.codes.data(), q.codes.size());
    w.add(t.name + "_scale_inv", DType::F32, {(rows + 127) / 128, (cols + 127) / 128}, q.scale_inv.data(),
          q.scale_inv.size() * 4);
  });
  ModelWeights mw = m->weights();
  size_t tiled = 0, in_place = 0;
  for_each_tensor(m->config(), mw,
                  {[&](const std::string& n, Weight& wt, TensorRole role) {
                     if (role != TensorRole::kLinear) return;
                     ASSERT_EQ(wt.dtype, DType::I8) << n;
                     if (n.find("kv_b_proj") != std::string::npos || wt.cols % 32 != 0) {
                       EXPECT_EQ(wt.int8, nullptr) << n;
                       ++in_place;
                       return;
                     }
                     ASSERT_NE(wt.int8, nullptr) << n;
                     EXPECT_TRUE(wt.int8->tiled && wt.int8->block == 128) << n;
                     const std::vector<float>& e = want.at(n);
                     for (int64_t r = 0; r < wt.rows; ++r)
                       for (int64_t c = 0; c < wt.cols; ++c)
                         ASSERT_EQ(wt.int8->value(r, c), e[size_t(r * wt.cols + c)]) << n << " " << r << "," << c;
                     ++tiled;
                   },
                   [](const std::string&, Vec&, TensorRole) {}});
  EXPECT_GT(tiled, 0u);
  EXPECT_GT(in_place, 0u);
}

}  // namespace
}  // namespace dsv3
