// GPTQ (asymmetric zeros, act-order g_idx) and AWQ (GEMM packing) matrices bound from
// safetensors fixtures written by scripts/make_quant_fixtures.py, which dequantizes them in
// plain Python from the formats' published descriptions: dsv3's repacked INT4 must give the
// same weights (up to the F16 rounding of the group offset m = -zero · d) and products.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "io/safetensors.h"
#include "kernels/linear.h"
#include "model/quant_bind.h"
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

void expect_same_weights(const Int4Matrix& m, const std::vector<float>& expected) {
  for (int64_t o = 0; o < kOut; ++o)
    for (int64_t i = 0; i < kIn; ++i) {
      const float e = expected[size_t(o * kIn + i)];
      ASSERT_NEAR(m.value(o, i), e, 0.1f * 15 * 0x1p-11f + 1e-6f) << o << "," << i;  // m's F16 rounding
    }
  // The product through the kernels (activations rounded to int8 per 32 columns).
  Weight w;
  w.dtype = DType::U8;
  w.rows = kOut;
  w.cols = kIn;
  w.data = m.packed.data();
  w.int4 = &m;
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
  expect_same_weights(m, tensor_to_f32(*f.find("expected")));
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

}  // namespace
}  // namespace dsv3
