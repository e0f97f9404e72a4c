// llama.cpp K-quant weights kept as their blocks (kernels/kquant.h): every instruction set's
// Q4_K, Q5_K and Q6_K kernels against a double-precision sum over the same quantized activations,
// and their activation rounding against the scalar one; linear() (decode and prefill), linear_t
// (the GEMM over widened tiles), linear_batch and row spans against the blocks'
// dequantization (core/kquant_blocks.h, the GGUF reader's), within the activation rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/kquant_blocks.h"
#include "io/gguf_writer.h"
#include "kernels/kquant.h"
#include "kernels/kquant_kernels.h"
#include "kernels/linear.h"
#include "kernels/quant_linear.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::random_vec;

struct KCase {  // K-quant rows [R, C] and their dequantized values
  std::vector<uint8_t> blocks;
  std::vector<float> values;
  std::vector<float> min_mag;  // |dmin · m| of each value (Q4_K, Q5_K): the other term's size
  Weight w;
};

const char* kind_name(KQuant k) { return k == KQuant::Q4_K ? "Q4_K" : k == KQuant::Q5_K ? "Q5_K" : "Q6_K"; }

// Q6_K from the writer's quantizer with some raw bytes (every code and scale sign, scale -128);
// Q4_K and Q5_K from random bytes with small positive d and dmin.
KCase make_kquant(KQuant kind, int64_t R, int64_t C, uint32_t seed) {
  KCase m;
  m.w.dtype = DType::U8;
  m.w.rows = R;
  m.w.cols = C;
  m.w.kquant = kind;
  const int64_t nb = R * C / kSuperBlock, bytes = int64_t(m.w.kquant_block_bytes());
  std::mt19937 rng(seed);
  if (kind == KQuant::Q6_K) {
    const auto f = random_vec(size_t(R * C), seed, 0.05f);
    for (int64_t r = 0; r < R; ++r) {
      const auto b = ggml_quantize_q6_k(f.data() + r * C, C);
      m.blocks.insert(m.blocks.end(), b.begin(), b.end());
    }
    for (int i = 0; i < 192; ++i) m.blocks[size_t(i)] = uint8_t(rng());
    m.blocks[192] = 0x80;
  } else {
    m.blocks.resize(size_t(nb * bytes));
    for (auto& v : m.blocks) v = uint8_t(rng());
    for (int64_t b = 0; b < nb; ++b) {
      const uint16_t d = f32_to_f16(0.002f * float(1 + b % 3)), dmin = f32_to_f16(0.004f);
      std::memcpy(m.blocks.data() + b * bytes, &d, 2);
      std::memcpy(m.blocks.data() + b * bytes + 2, &dmin, 2);
    }
  }
  m.values.resize(size_t(R * C));
  m.min_mag.assign(size_t(R * C), 0.0f);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = m.blocks.data() + b * bytes;
    if (kind == KQuant::Q6_K) {
      dequantize_q6_k(blk, m.values.data() + b * kSuperBlock);
      continue;
    }
    dequantize_q4_5_k(blk, kind == KQuant::Q5_K, m.values.data() + b * kSuperBlock);
    for (int i = 0; i < 256; ++i) {
      int sc, mn;
      scale_min_k4(i / 32, blk + 4, sc, mn);
      m.min_mag[size_t(b * kSuperBlock + i)] = kquant_half(blk + 2) * float(mn);
    }
  }
  m.w.data = m.blocks.data();
  return m;
}

// y [n, R] = x [n, C] · valuesᵀ in double, and the bound on what rounding x to int8 per 256
// columns (half a step, max|x| / 254, per value) may move each result.
void reference(const KCase& m, const float* x, int64_t n, int64_t R, int64_t C, std::vector<double>& y,
               std::vector<double>& tol) {
  const std::vector<float>& values = m.values;
  y.assign(size_t(n * R), 0.0);
  tol.assign(size_t(n * R), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t u = 0; u < C / 256; ++u) {
        double amax = 0;
        for (int64_t c = 256 * u; c < 256 * u + 256; ++c) amax = std::max(amax, double(std::fabs(x[t * C + c])));
        for (int64_t c = 256 * u; c < 256 * u + 256; ++c) {
          const double w = values[size_t(r * C + c)];
          y[size_t(t * R + r)] += w * x[t * C + c];
          const double float_mag = (std::fabs(w) + 2 * m.min_mag[size_t(r * C + c)]) * std::fabs(x[t * C + c]);
          tol[size_t(t * R + r)] += std::fabs(w) * amax / 254.0 * 1.0001 + 1e-6 * float_mag;
        }
      }
}

TEST(KQuantKernels, EveryInstructionSetMatchesTheExactIntegerSums) {
  const int64_t R = 9, C = 512;
  const auto x = random_vec(size_t(8 * C), 4);
  KQuantActs a;
  kquant_quantize(a, x.data(), 8, C);
  const KQuantRows rows{a.q.data(), a.d.data(), a.bsum.data(), C, C / 256, C / 16};
  int tested = 0;
  for (KQuant kind : {KQuant::Q4_K, KQuant::Q5_K, KQuant::Q6_K}) {
    const KCase m = make_kquant(kind, R, C, 3);
    for (const char* name : {"generic", "avx2", "avx512"}) {
      const KQuantKernels* k = kquant_kernels_by_name(name);
      if (!k) continue;
      ++tested;
      const auto gemv = kind == KQuant::Q6_K ? k->gemv_q6_k : kind == KQuant::Q4_K ? k->gemv_q4_k : k->gemv_q5_k;
      for (int64_t nt = 1; nt <= 8; ++nt) {
        std::vector<float> y(size_t(nt * R));
        gemv(y.data(), R, rows, nt, m.blocks.data(), int64_t(m.w.kquant_row_bytes()), R, C);
        for (int64_t t = 0; t < nt; ++t)
          for (int64_t r = 0; r < R; ++r) {
            double e = 0, mag = 0;
            for (int64_t c = 0; c < C; ++c) {
              const double xc = double(a.q[size_t(t * C + c)]) * a.d[size_t(t * C / 256 + c / 256)];
              const size_t i = size_t(r * C + c);
              e += double(m.values[i]) * xc;
              mag += (std::fabs(m.values[i]) + 2 * m.min_mag[i]) * std::fabs(xc);
            }
            ASSERT_NEAR(y[size_t(t * R + r)], e, 2e-6 * mag + 1e-7)
                << kind_name(kind) << " " << name << " nt=" << nt << " t=" << t << " r=" << r;
          }
      }
    }
  }
  EXPECT_GE(tested, 3);
}

TEST(KQuantKernels, ActivationsAreRoundedPerSuperBlockWithTheirSixteenColumnSums) {
  auto x = random_vec(512, 5);
  x[300] = 9.0f;  // the second super-block's largest value: its code is 127
  KQuantActs a;
  kquant_quantize(a, x.data(), 1, 512);
  ASSERT_EQ(a.d.size(), 2u);
  EXPECT_FLOAT_EQ(a.d[1], 9.0f / 127);
  EXPECT_EQ(a.q[300], 127);
  for (int64_t c = 0; c < 512; ++c) {
    ASSERT_LE(std::abs(int(a.q[size_t(c)])), 127);
    ASSERT_NEAR(a.q[size_t(c)] * a.d[size_t(c / 256)], x[size_t(c)], a.d[size_t(c / 256)] / 2 * 1.0001);
  }
  for (int j = 0; j < 32; ++j) {
    int sum = 0;
    for (int i = 16 * j; i < 16 * j + 16; ++i) sum += a.q[size_t(i)];
    ASSERT_EQ(a.bsum[size_t(j)], sum) << j;
  }
}

TEST(KQuantKernels, EveryInstructionSetRoundsTheActivationsToTheSameBytes) {
  const int64_t units = 6;
  auto x = random_vec(size_t(units * 256), 11, 3.0f);
  for (int i = 0; i < 256; ++i) x[size_t(256 + i)] = 0.0f;               // an all-zero unit: codes 0
  for (int i = 0; i < 256; ++i) x[size_t(512 + i)] = float(i % 9 - 4) * 0.5f;  // exact halves: ties
  x[800] = -1e30f;                                                        // a huge value: one ±127
  x[1100] = 1e-30f;                                                       // a tiny unit: d ≈ 8e-33
  for (int i = 1024; i < 1280; ++i) x[size_t(i)] = i == 1100 ? x[size_t(i)] : 0.0f;
  const KQuantKernels* ref = kquant_kernels_by_name("generic");
  std::vector<int8_t> q0(size_t(units * 256));
  std::vector<float> d0(static_cast<size_t>(units));
  std::vector<int16_t> s0(size_t(units * 16));
  ref->quantize(q0.data(), d0.data(), s0.data(), x.data(), units);
  EXPECT_EQ(d0[1], 0.0f);
  EXPECT_EQ(q0[800], -127);
  EXPECT_EQ(q0[1100], 127);
  int tested = 0;
  for (const char* name : {"avx2", "avx512"}) {
    const KQuantKernels* k = kquant_kernels_by_name(name);
    if (!k) continue;
    ++tested;
    std::vector<int8_t> q(q0.size());
    std::vector<float> d(d0.size());
    std::vector<int16_t> s(s0.size());
    k->quantize(q.data(), d.data(), s.data(), x.data(), units);
    EXPECT_EQ(q, q0) << name;
    EXPECT_EQ(d, d0) << name;
    EXPECT_EQ(s, s0) << name;
  }
  if (kquant_kernels_by_name("avx2")) {
    EXPECT_GE(tested, 1);
  }
}

TEST(KQuantLinear, DecodeAndPrefillMatchTheFloatProductWithinTheActivationRounding) {
  const int64_t R = 70, C = 768;  // more rows than one task, three super-blocks per row
  for (KQuant kind : {KQuant::Q4_K, KQuant::Q5_K, KQuant::Q6_K})
  for (int64_t n : {1, 3, 8, 13, 40}) {  // 13, 40: prefill, 8 input rows at a time and a remainder
    const KCase m = make_kquant(kind, R, C, 6);
    const auto x = random_vec(size_t(n * C), uint32_t(7 + n));
    std::vector<float> y(size_t(n * R));
    linear(y.data(), x.data(), n, m.w);
    std::vector<double> want, tol;
    reference(m, x.data(), n, R, C, want, tol);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], want[i], tol[i] + 1e-5) << kind_name(kind) << " n=" << n << " i=" << i;
  }
}

TEST(KQuantLinear, RowSpansSlicesTransposedAndBatchedProductsSeeTheStoredWeights) {
  const int64_t R = 12, C = 512;
  for (KQuant kind : {KQuant::Q4_K, KQuant::Q5_K, KQuant::Q6_K}) {
  SCOPED_TRACE(kind_name(kind));
  const KCase m = make_kquant(kind, R, C, 8);
  std::vector<float> row(static_cast<size_t>(C)), span(100);
  for (int64_t r = 0; r < R; ++r) {
    weight_row_f32(row.data(), m.w, r);
    for (int64_t c = 0; c < C; ++c) ASSERT_EQ(row[size_t(c)], m.values[size_t(r * C + c)]) << r << "," << c;
  }
  weight_row_span_f32(span.data(), m.w.rows_slice(4, 3), 1, 200, 100);  // crosses a super-block
  for (int64_t c = 0; c < 100; ++c) ASSERT_EQ(span[size_t(c)], m.values[size_t(5 * C + 200 + c)]);
  // linear_t: y [n, C] = x [n, R] · W, exact float products of the widened rows.
  const auto xt = random_vec(size_t(2 * R), 9);
  std::vector<float> yt(size_t(2 * C));
  linear_t(yt.data(), xt.data(), 2, m.w);
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t c = 0; c < C; ++c) {
      double e = 0, mag = 0;
      for (int64_t r = 0; r < R; ++r) {
        const double v = double(xt[size_t(t * R + r)]) * m.values[size_t(r * C + c)];
        e += v;
        mag += std::fabs(v);
      }
      ASSERT_NEAR(yt[size_t(t * C + c)], e, 1e-5 * mag + 1e-6);
    }
  // linear_batch gives each product what linear() gives, decode and prefill row counts alike.
  for (int64_t n : {2, 12}) {
  const auto x = random_vec(size_t(n * C), 10);
  std::vector<float> y1(size_t(n * R)), y2(size_t(n * 5)), b1(y1.size()), b2(y2.size());
  const Weight slice = m.w.rows_slice(7, 5);
  linear(y1.data(), x.data(), n, m.w);
  linear(y2.data(), x.data(), n, slice);
  const LinearJob jobs[] = {{b1.data(), x.data(), n, m.w}, {b2.data(), x.data(), n, slice}};
  linear_batch(jobs, 2);
  EXPECT_EQ(b1, y1) << n;
  EXPECT_EQ(b2, y2) << n;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < 5; ++r) EXPECT_EQ(y2[size_t(t * 5 + r)], y1[size_t(t * R + 7 + r)]);
  }
  }
}

}  // namespace
}  // namespace dsv3
