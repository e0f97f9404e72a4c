// The FP8 (E4M3) and BF16 emulation of the training recipe: rounding against the exact
// conversions of core/dtype.h, the tile and block scaling, the operands each of a linear
// layer's three products sees, and the gradients of the precision modes against float32.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "core/dtype.h"
#include "io/json_file.h"
#include "kernels/linear.h"
#include "test_util.h"
#include "train/model_train.h"
#include "kernels/precision_linear.h"

namespace dsv3 {
namespace {

float fp8_exact(float v) { return fp8_e4m3_to_f32(f32_to_fp8_e4m3(v)); }

TEST(TrainPrecision, Fp8RoundEqualsTheExactConversion) {
  std::vector<float> vals = {0.0f, -0.0f, 448.0f, 449.0f, 464.0f, 1e9f, -1e9f, 0x1p-6f, 0x1p-7f, 0x1p-9f, 0x1p-10f,
                             0x1.8p-10f, 0x1p-11f};
  for (int c = 0; c < 256; ++c) {  // every code, and the midpoints between neighbours (ties)
    const float v = fp8_e4m3_to_f32(uint8_t(c));
    if (std::isnan(v)) continue;
    vals.push_back(v);
    const float next = fp8_e4m3_to_f32(uint8_t(c + 1));
    if ((c & 0x7f) < 0x7e && !std::isnan(next)) vals.push_back(0.5f * (v + next));
  }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> ex(-14.0f, 10.0f);
  for (int i = 0; i < 20000; ++i) vals.push_back((rng() & 1 ? -1.0f : 1.0f) * std::exp2(ex(rng)));
  for (float v : vals) EXPECT_EQ(fp8_round(v), fp8_exact(v)) << v;
  EXPECT_EQ(fp8_round(1000.0f), 448.0f);  // saturates, never NaN
  EXPECT_EQ(fp8_round(-1000.0f), -448.0f);
}

// Checks one scaling group of the quantized copy q of x: the scale is amax/448, every element
// is an E4M3 value times it, and it is the nearest one.
void expect_group(const std::vector<float>& x, const std::vector<float>& q, const std::vector<int64_t>& idx) {
  float amax = 0;
  for (int64_t i : idx) amax = std::max(amax, std::fabs(x[size_t(i)]));
  const float scale = amax / 448.0f;
  for (int64_t i : idx) {
    const float want = fp8_exact(x[size_t(i)] * (448.0f / amax)) * scale;
    ASSERT_EQ(q[size_t(i)], want) << i;
  }
}

TEST(TrainPrecision, TilesAndBlocksHaveTheirOwnScales) {
  const int64_t R = 300, C = 200;  // partial tiles at both edges
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(R * C));
  for (int64_t i = 0; i < R * C; ++i) x[size_t(i)] = nd(rng) * std::exp2(float(int(rng() % 20) - 10));
  x[5] = 1e4f;  // one outlier may only coarsen its own group
  auto rows = x, cols = x, blocks = x;
  fp8_quantize_row_tiles(rows.data(), R, C);
  fp8_quantize_col_tiles(cols.data(), R, C);
  fp8_quantize_blocks(blocks.data(), R, C);
  for (int64_t r = 0; r < R; r += 37)
    for (int64_t c0 = 0; c0 < C; c0 += 128) {
      std::vector<int64_t> idx;
      for (int64_t c = c0; c < std::min(C, c0 + 128); ++c) idx.push_back(r * C + c);
      expect_group(x, rows, idx);
    }
  for (int64_t c = 0; c < C; c += 29)
    for (int64_t r0 = 0; r0 < R; r0 += 128) {
      std::vector<int64_t> idx;
      for (int64_t r = r0; r < std::min(R, r0 + 128); ++r) idx.push_back(r * C + c);
      expect_group(x, cols, idx);
    }
  for (int64_t r0 = 0; r0 < R; r0 += 128)
    for (int64_t c0 = 0; c0 < C; c0 += 128) {
      std::vector<int64_t> idx;
      for (int64_t r = r0; r < std::min(R, r0 + 128); ++r)
        for (int64_t c = c0; c < std::min(C, c0 + 128); ++c) idx.push_back(r * C + c);
      expect_group(x, blocks, idx);
    }
  EXPECT_EQ(rows[size_t(C)], fp8_exact(x[size_t(C)] * (448.0f / [&] {
                                          float m = 0;
                                          for (int64_t c = 0; c < 128; ++c) m = std::max(m, std::fabs(x[size_t(C + c)]));
                                          return m;
                                        }())) * ([&] {
                                          float m = 0;
                                          for (int64_t c = 0; c < 128; ++c) m = std::max(m, std::fabs(x[size_t(C + c)]));
                                          return m;
                                        }() / 448.0f));
}

TEST(TrainPrecision, Bf16RoundingIsNearestEven) {
  std::vector<float> v = {1.0f + 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, 1.0f + 3 * 0x1p-8f, -3.14159f};
  auto r = v;
  bf16_round_all(r.data(), int64_t(r.size()));
  EXPECT_EQ(r[0], 1.0f);                  // tie to even
  EXPECT_EQ(r[1], 1.0f + 0x1p-7f);        // above the tie
  EXPECT_EQ(r[2], 1.0f + 0x1p-6f);        // tie to even (up)
  EXPECT_EQ(r[3], bf16_to_f32(f32_to_bf16(-3.14159f)));
}

// The three products of an FP8 linear layer see exactly the operands the recipe prescribes.
TEST(TrainPrecision, Fp8LinearQuantizesAlongEachReduction) {
  const int64_t n = 150, R = 140, C = 130;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(n * C)), w(size_t(R * C)), dy(size_t(n * R));
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = 0.1f * nd(rng);
  for (auto& v : dy) v = 0.01f * nd(rng);
  fp8_quantize_blocks(w.data(), R, C);  // the trainer's per-step weight copy
  const Weight W = f32_weight(w.data(), R, C);

  std::vector<float> y(size_t(n * R)), y_want(size_t(n * R)), qx = x;
  fp8_quantize_row_tiles(qx.data(), n, C);
  linear_forward(y.data(), x.data(), n, W, Precision::kFP8);
  linear(y_want.data(), qx.data(), n, W);
  EXPECT_EQ(test::max_abs_diff(y.data(), y_want.data(), y.size()), 0.0f);

  std::vector<float> dx(size_t(n * C)), dx_want(size_t(n * C)), dw(size_t(R * C), 0.0f), dw_want(size_t(R * C), 0.0f);
  linear_backward(dx.data(), dw.data(), dy.data(), x.data(), n, W, Precision::kFP8);
  auto qdy_rows = dy, qdy_cols = dy, qx_cols = x;
  fp8_quantize_row_tiles(qdy_rows.data(), n, R);
  fp8_quantize_col_tiles(qdy_cols.data(), n, R);
  fp8_quantize_col_tiles(qx_cols.data(), n, C);
  linear_t(dx_want.data(), qdy_rows.data(), n, W);
  linear_dw(dw_want.data(), qdy_cols.data(), qx_cols.data(), n, R, C);
  EXPECT_EQ(test::max_abs_diff(dx.data(), dx_want.data(), dx.size()), 0.0f);
  EXPECT_EQ(test::max_abs_diff(dw.data(), dw_want.data(), dw.size()), 0.0f);
  // ... and quantization changed something (the test is not vacuous).
  std::vector<float> y32(size_t(n * R));
  linear(y32.data(), x.data(), n, W);
  EXPECT_GT(test::max_abs_diff(y.data(), y32.data(), y.size()), 0.0f);
}

// Loss and gradient of each mode against float32, on a dense model (no routing decision can
// flip between modes) wide enough for whole 128-element tiles.
TEST(TrainPrecision, ModesStayCloseToFloat32) {
  const ModelConfig cfg = parse_config(
      json{{"vocab_size", 300}, {"hidden_size", 256}, {"intermediate_size", 384}, {"num_hidden_layers", 2},
           {"num_attention_heads", 2}, {"q_lora_rank", 128}, {"kv_lora_rank", 128}, {"qk_nope_head_dim", 32},
           {"qk_rope_head_dim", 16}, {"v_head_dim", 32}, {"num_nextn_predict_layers", 1}},
      "dense");
  const ParamLayout layout(cfg);
  std::vector<float> master(size_t(layout.n_params())), biases(size_t(layout.n_bias()));
  init_params(layout, 5, 0.05, master.data(), biases.data());
  TokenRows batch;
  batch.B = 2;
  batch.T = 24;
  for (int64_t i = 0; i < batch.B * batch.T; ++i) batch.tokens.push_back(int32_t((i * 37 + 11) % cfg.vocab_size));
  LossNorm norm;
  norm.add(batch, 1);
  std::vector<double> loss;
  std::vector<std::vector<float>> grads;
  for (Precision p : {Precision::kF32, Precision::kBF16, Precision::kFP8}) {
    std::vector<float> compute(master.size()), g(master.size(), 0.0f);
    round_params(layout, master.data(), compute.data(), p);
    TrainModel m(cfg, p);
    const GradSink sink{compute.data(), g.data()};
    loss.push_back(m.run(batch, layout.bind(compute.data(), biases.data()), {0.3, 0.01}, norm, &sink).total);
    grads.push_back(g);
  }
  auto rel = [&](int k) {
    double num = 0, den = 0;
    for (size_t i = 0; i < master.size(); ++i) {
      num += (double(grads[size_t(k)][i]) - grads[0][i]) * (double(grads[size_t(k)][i]) - grads[0][i]);
      den += double(grads[0][i]) * grads[0][i];
    }
    return std::sqrt(num / den);
  };
  std::printf("loss f32 %.7f bf16 %.7f fp8 %.7f; gradient error bf16 %.4f fp8 %.4f\n", loss[0], loss[1], loss[2],
              rel(1), rel(2));
  EXPECT_NE(loss[1], loss[0]);
  EXPECT_NE(loss[2], loss[1]);
  EXPECT_NEAR(loss[1], loss[0], 1e-3 * loss[0]);
  EXPECT_NEAR(loss[2], loss[0], 5e-3 * loss[0]);
  EXPECT_LT(rel(1), 0.02);
  EXPECT_LT(rel(2), 0.3);  // E4M3 keeps 3 mantissa bits: each operand carries ~3% error
  EXPECT_GT(rel(2), rel(1));
}

}  // namespace
}  // namespace dsv3
