// The linear kernels against a plain double-precision product, for every stored dtype
// (FP8 with partial edge blocks), every instruction set the CPU has, and odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "core/dtype.h"
#include "kernels/isa_kernels.h"
#include "kernels/linear.h"
#include "test_util.h"

namespace dsv3 {
namespace {

struct Matrix {  // a weight in some dtype plus its exact float32 values
  std::vector<uint8_t> bytes;
  std::vector<float> scales, values;
  Weight w;
};

Matrix make_matrix(DType dt, int64_t R, int64_t C, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Matrix m;
  m.values.resize(size_t(R * C));
  m.bytes.resize(size_t(R * C) * dtype_size(dt));
  const int64_t B = 128, sr = (R + B - 1) / B, sc = (C + B - 1) / B;
  if (dt == DType::F8_E4M3) {
    m.scales.resize(size_t(sr * sc));
    for (auto& s : m.scales) s = std::ldexp(1.0f, int(rng() % 5) - 8);
  }
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t c = 0; c < C; ++c) {
      const size_t i = size_t(r * C + c);
      const float v = nd(rng);
      if (dt == DType::F32) { std::memcpy(&m.bytes[i * 4], &v, 4); m.values[i] = v; }
      if (dt == DType::BF16) { uint16_t h = f32_to_bf16(v); std::memcpy(&m.bytes[i * 2], &h, 2); m.values[i] = bf16_to_f32(h); }
      if (dt == DType::F16) { uint16_t h = f32_to_f16(v); std::memcpy(&m.bytes[i * 2], &h, 2); m.values[i] = f16_to_f32(h); }
      if (dt == DType::F8_E4M3) {
        const uint8_t q = f32_to_fp8_e4m3(v * 16.0f);
        m.bytes[i] = q;
        m.values[i] = fp8_e4m3_to_f32(q) * m.scales[size_t((r / B) * sc + c / B)];
      }
    }
  }
  m.w.dtype = dt;
  m.w.rows = R;
  m.w.cols = C;
  m.w.data = m.bytes.data();
  if (dt == DType::F8_E4M3) {
    m.w.scale_inv = m.scales.data();
    m.w.scale_cols = sc;
  }
  return m;
}

using test::random_vec;

struct Case {
  DType dtype;
  int64_t rows, cols, n;
};

class LinearKernels : public ::testing::TestWithParam<Case> {};

TEST_P(LinearKernels, MatchDoublePrecisionProduct) {
  const Case c = GetParam();
  const Matrix m = make_matrix(c.dtype, c.rows, c.cols, 1);
  const auto x = random_vec(size_t(c.n * c.cols), 2), xt = random_vec(size_t(c.n * c.rows), 3);
  std::vector<float> y(size_t(c.n * c.rows)), yt(size_t(c.n * c.cols));
  linear(y.data(), x.data(), c.n, m.w);
  linear_t(yt.data(), xt.data(), c.n, m.w);
  for (int64_t t = 0; t < c.n; ++t) {
    for (int64_t r = 0; r < c.rows; ++r) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < c.cols; ++k) {
        s += double(x[size_t(t * c.cols + k)]) * m.values[size_t(r * c.cols + k)];
        mag += std::fabs(double(x[size_t(t * c.cols + k)]) * m.values[size_t(r * c.cols + k)]);
      }
      ASSERT_NEAR(y[size_t(t * c.rows + r)], s, 1e-5 * mag + 1e-6) << "t=" << t << " r=" << r;
    }
    for (int64_t k = 0; k < c.cols; ++k) {
      double s = 0, mag = 0;
      for (int64_t r = 0; r < c.rows; ++r) {
        s += double(xt[size_t(t * c.rows + r)]) * m.values[size_t(r * c.cols + k)];
        mag += std::fabs(double(xt[size_t(t * c.rows + r)]) * m.values[size_t(r * c.cols + k)]);
      }
      ASSERT_NEAR(yt[size_t(t * c.cols + k)], s, 1e-5 * mag + 1e-6) << "t=" << t << " c=" << k;
    }
  }
}

TEST_P(LinearKernels, RowSliceSeesTheSameRowsAndScales) {
  const Case c = GetParam();
  if (c.rows < 3) GTEST_SKIP();
  const Matrix m = make_matrix(c.dtype, c.rows, c.cols, 4);
  const int64_t r0 = c.rows / 3, nr = c.rows - r0 - 1;
  const auto x = random_vec(size_t(c.n * c.cols), 5);
  std::vector<float> full(size_t(c.n * c.rows)), part(size_t(c.n * nr));
  linear(full.data(), x.data(), c.n, m.w);
  linear(part.data(), x.data(), c.n, m.w.rows_slice(r0, nr));
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t r = 0; r < nr; ++r) EXPECT_FLOAT_EQ(part[size_t(t * nr + r)], full[size_t(t * c.rows + r0 + r)]);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LinearKernels,
    ::testing::Values(Case{DType::F32, 33, 70, 5}, Case{DType::BF16, 64, 256, 1}, Case{DType::BF16, 17, 300, 70},
                      Case{DType::F16, 40, 129, 3}, Case{DType::F8_E4M3, 300, 200, 2},
                      Case{DType::F8_E4M3, 130, 257, 9}, Case{DType::F32, 5, 3, 130},
                      // GEMV with 5..8 input rows: two groups of inputs per weight row
                      Case{DType::BF16, 30, 37, 7}, Case{DType::F32, 9, 100, 6}, Case{DType::F8_E4M3, 130, 257, 8},
                      Case{DType::F16, 23, 50, 5}));

// Decode results must not depend on what else is in the batch: speculative verification (the
// pending token and its drafts) has to reproduce plain one-row decoding bit for bit.
// 1100 columns: 8 input rows take the columns in 3 spans, one row in 1 (the decode kernels keep
// each input's span in L1); 5 rows: a group of 4 and a group of 1.
TEST(LinearKernels, ARowsResultDoesNotDependOnTheOtherRows) {
  for (DType dt : {DType::F32, DType::BF16, DType::F8_E4M3}) {
    for (const int64_t cols : {333, 1100})
      for (const int64_t n : {5, 8}) {
        const Matrix m = make_matrix(dt, 45, cols, 11);
        const auto x = random_vec(size_t(n * cols), 12);
        std::vector<float> all(size_t(n * 45)), one(45);
        linear(all.data(), x.data(), n, m.w);
        for (int64_t t = 0; t < n; ++t) {
          linear(one.data(), x.data() + t * cols, 1, m.w);
          for (int64_t r = 0; r < 45; ++r)
            ASSERT_EQ(one[size_t(r)], all[size_t(t * 45 + r)]) << dtype_name(dt) << " cols=" << cols << " t=" << t;
        }
        linear(all.data(), x.data(), 0, m.w);  // an empty batch: nothing to do
      }
    const Matrix m = make_matrix(dt, 45, 333, 11);
    // The transposed product (W_UK in decode) too: one input row takes a wider column tile.
    const auto xt = random_vec(size_t(8 * 45), 13);
    std::vector<float> all_t(size_t(8 * 333)), one_t(333);
    linear_t(all_t.data(), xt.data(), 8, m.w);
    for (int64_t t = 0; t < 8; ++t) {
      linear_t(one_t.data(), xt.data() + t * 45, 1, m.w);
      for (int64_t c = 0; c < 333; ++c)
        ASSERT_EQ(one_t[size_t(c)], all_t[size_t(t * 333 + c)]) << dtype_name(dt) << " linear_t t=" << t;
    }
  }
}

// FP8 and BF16 decode products with activations rounded to BF16 (DecodeMath::Bf16All, on vdpbf16ps
// where the CPU has it): within 2^-9 of Σ|x s w| of the exact product (the rounding of x · s),
// partial edge blocks and tails included, and still independent of the other rows of the batch.
TEST(LinearKernels, DecodeOnBf16ActivationsStaysWithinItsRounding) {
  set_decode_math(DecodeMath::Bf16All);
  for (const DType dt : {DType::F8_E4M3, DType::BF16})
  for (const int64_t C : {257, 1300, 4100}) {  // 8 input rows take 1, 2 and 5 spans of columns
    SCOPED_TRACE(dtype_name(dt));
    const Matrix m = make_matrix(dt, 300, C, 31);
    const auto x = random_vec(size_t(8 * C), 32);
    std::vector<float> all(size_t(8 * 300)), one(300);
    linear(all.data(), x.data(), 8, m.w);
    for (int64_t t = 0; t < 8; ++t) {
      linear(one.data(), x.data() + t * C, 1, m.w);
      for (int64_t r = 0; r < 300; ++r) {
        ASSERT_EQ(one[size_t(r)], all[size_t(t * 300 + r)]) << "C=" << C << " t=" << t << " r=" << r;
        double s = 0, mag = 0;
        for (int64_t k = 0; k < C; ++k) {
          const double p = double(x[size_t(t * C + k)]) * m.values[size_t(r * C + k)];
          s += p;
          mag += std::fabs(p);
        }
        ASSERT_NEAR(one[size_t(r)], s, 0x1p-9 * mag + 1e-5 * mag + 1e-6) << "C=" << C << " t=" << t << " r=" << r;
      }
    }
  }
  set_decode_math(DecodeMath::F32);
}

// linear_batch splits many products' rows over the threads; each output is what linear() gives.
TEST(LinearBatch, EachProductEqualsItsOwnLinear) {
  std::vector<Matrix> ms;
  for (DType dt : {DType::BF16, DType::F8_E4M3, DType::F32, DType::F16}) ms.push_back(make_matrix(dt, 150, 260, 21));
  ms.push_back(make_matrix(DType::BF16, 7, 33, 22));
  const auto x = random_vec(size_t(12 * 260), 23);
  std::vector<std::vector<float>> y(ms.size()), ref(ms.size());
  std::vector<LinearJob> jobs;
  for (size_t j = 0; j < ms.size(); ++j) {
    const int64_t n = j == 3 ? 12 : int64_t(j % 3) + 1;  // one many-row product (the GEMM path)
    y[j].assign(size_t(n * ms[j].w.rows), -1.0f);
    ref[j].resize(y[j].size());
    linear(ref[j].data(), x.data(), n, ms[j].w);
    jobs.push_back({y[j].data(), x.data(), n, ms[j].w});
  }
  jobs[4].x = x.data() + 5;  // a different input and width (33 columns)
  linear(ref[4].data(), jobs[4].x, jobs[4].n, ms[4].w);
  linear_batch(jobs.data(), jobs.size());
  for (size_t j = 0; j < ms.size(); ++j) EXPECT_EQ(y[j], ref[j]) << "job " << j;
}

// Prefill on BF16 dot products: activations and weights rounded to BF16, products summed in
// float32 — against the same rounding summed in double. Odd depths and partial tiles; FP8
// weights become BF16 code·scale. The float32 mode stays the exact reference.
TEST(LinearBf16Prefill, MatchesBf16RoundedProduct) {
  const IsaKernels& k = isa_kernels();
  if (!k.gemm_bf16_micro) GTEST_SKIP() << "no BF16 dot-product instruction on this CPU / DSV3_ISA";
  for (const Case c : {Case{DType::BF16, 300, 301, 37}, Case{DType::F8_E4M3, 130, 257, 140}, Case{DType::BF16, 5, 64, 9}}) {
    const Matrix m = make_matrix(c.dtype, c.rows, c.cols, 31);
    const auto x = random_vec(size_t(c.n * c.cols), 32);
    std::vector<float> y(size_t(c.n * c.rows)), exact(y.size());
    set_prefill_math(PrefillMath::F32);
    linear(exact.data(), x.data(), c.n, m.w);
    set_prefill_math(PrefillMath::Bf16);
    linear(y.data(), x.data(), c.n, m.w);
    set_prefill_math(PrefillMath::F32);
    bool differs = false;
    for (int64_t t = 0; t < c.n; ++t)
      for (int64_t r = 0; r < c.rows; ++r) {
        double s = 0, mag = 0;
        for (int64_t i = 0; i < c.cols; ++i) {
          const double p = double(bf16_to_f32(f32_to_bf16(x[size_t(t * c.cols + i)]))) *
                           bf16_to_f32(f32_to_bf16(m.values[size_t(r * c.cols + i)]));
          s += p;
          mag += std::fabs(p);
        }
        const size_t o = size_t(t * c.rows + r);
        ASSERT_NEAR(y[o], s, 1e-5 * mag + 1e-6) << dtype_name(c.dtype) << " t=" << t << " r=" << r;
        differs |= y[o] != exact[o];
      }
    EXPECT_TRUE(differs) << "the BF16 path did not run";
  }
}

TEST(LinearDw, MatchesSumOfOuterProducts) {
  const int64_t n = 37, R = 21, C = 45;
  const auto dy = random_vec(size_t(n * R), 6), x = random_vec(size_t(n * C), 7);
  std::vector<float> dw(size_t(R * C), 1.0f);  // accumulates onto what is there
  linear_dw(dw.data(), dy.data(), x.data(), n, R, C);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) {
      double s = 1.0;
      for (int64_t t = 0; t < n; ++t) s += double(dy[size_t(t * R + r)]) * x[size_t(t * C + c)];
      ASSERT_NEAR(dw[size_t(r * C + c)], s, 1e-4);
    }
}

TEST(IsaKernels, EveryAvailableInstructionSetAgrees) {
  const IsaKernels* base = isa_kernels_by_name("generic");
  ASSERT_NE(base, nullptr);
  const auto a = random_vec(1000, 8), b = random_vec(1000, 9);
  std::vector<uint16_t> h(1000);
  for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_bf16(a[i]);
  for (const char* name : {"avx2", "avx512", "avx512bf16"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (!k) continue;
    EXPECT_NEAR(k->dot(a.data(), b.data(), 1000), base->dot(a.data(), b.data(), 1000), 1e-3) << name;
    std::vector<float> w1(1000), w2(1000);
    k->widen_bf16(w1.data(), h.data(), 1000);
    base->widen_bf16(w2.data(), h.data(), 1000);
    EXPECT_EQ(w1, w2) << name;
  }
}

// The BF16 GEMM packs through round_bf16: every instruction set's equals f32_to_bf16 bit for bit,
// ties to even, overflow to infinity, NaNs quieted, subnormals kept, and a tail shorter than a
// register included.
TEST(IsaKernels, RoundBf16IsF32ToBf16OnEveryInstructionSet) {
  std::vector<float> v = random_vec(1000, 12, 10.0f);
  const uint32_t bits[] = {0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u,
                           0xff800000u, 0x7f800001u, 0xffc00001u, 0x7fbfffffu, 0x00000001u, 0x807fffffu,
                           0x00008000u, 0x80018000u, 0x00000000u, 0x80000000u};
  for (size_t i = 0; i < std::size(bits); ++i) std::memcpy(&v[i * 7], &bits[i], 4);
  std::vector<uint16_t> want(v.size());
  for (size_t i = 0; i < v.size(); ++i) want[i] = f32_to_bf16(v[i]);
  int tested = 0;
  for (const char* name : {"generic", "avx2", "avx512", "avx512bf16"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (!k) continue;
    ++tested;
    for (int64_t n : {int64_t(1000), int64_t(13)}) {
      std::vector<uint16_t> got(static_cast<size_t>(n));
      k->round_bf16(got.data(), v.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[size_t(i)], want[size_t(i)]) << name << " i=" << i;
    }
  }
  EXPECT_GE(tested, 1);
}

// Each instruction set's microkernel and decode kernels against plain loops, so a CPU that
// dispatches differently from this one still runs tested code.
TEST(IsaKernels, GemmMicroAndGemvMatchPlainLoops) {
  for (const char* name : {"generic", "avx2", "avx512", "avx512bf16"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (!k) continue;
    const int mr = k->gemm_mr, nr = k->gemm_nr;
    const int64_t depth = 37;
    const auto ap = random_vec(size_t(depth * mr), 11), bp = random_vec(size_t(depth * nr), 12);
    std::vector<float> c(size_t(mr * nr), 1.0f);
    k->gemm_micro(ap.data(), bp.data(), depth, c.data(), nr, mr - 1, nr - 1, true);  // a partial tile
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) {
        double s = 1.0;
        if (i < mr - 1 && j < nr - 1)
          for (int64_t p = 0; p < depth; ++p) s += double(ap[size_t(p * mr + i)]) * bp[size_t(p * nr + j)];
        ASSERT_NEAR(c[size_t(i * nr + j)], s, 1e-4) << name << " " << i << "," << j;
      }

    const int64_t K = 300, R = 5;
    const auto x = random_vec(size_t(9 * K), 13);
    std::vector<uint16_t> wb(size_t(R * K));
    std::vector<uint8_t> w8(size_t(R * K));
    for (size_t i = 0; i < wb.size(); ++i) {
      wb[i] = f32_to_bf16(x[i % x.size()] * 0.5f);
      w8[i] = uint8_t((i * 37) % 256 == 0x7F ? 0 : (i * 37) % 256) & 0xF7;  // finite codes, subnormals too
    }
    // The transposed decode kernels: y[t][c] += Σ_r x[t][r] · w[r][c] over R rows, 70 columns
    // and 300 (a 128-column tile of one input row, the 8-row tile, and their tails).
    for (const int64_t nc : {int64_t(70), int64_t(300)})
    for (int64_t nt = 1; nt <= 9; ++nt) {
      std::vector<float> yb(size_t(nt * nc), 1.0f), y8(size_t(nt * nc), 1.0f), yf(size_t(nt * nc), 1.0f);
      std::vector<float> wf(size_t(R * K));
      for (size_t i = 0; i < wf.size(); ++i) wf[i] = bf16_to_f32(wb[i]);
      k->gemv_t_bf16(yb.data(), nc, x.data(), K, nt, wb.data(), K, R, nc);
      k->gemv_t_fp8(y8.data(), nc, x.data(), K, nt, w8.data(), K, R, nc);
      k->gemv_t_f32(yf.data(), nc, x.data(), K, nt, wf.data(), K, R, nc);
      for (int64_t t = 0; t < nt; ++t)
        for (int64_t col = 0; col < nc; ++col) {
          double sb = 1.0, s8 = 1.0;
          for (int64_t r = 0; r < R; ++r) {
            sb += double(x[size_t(t * K + r)]) * bf16_to_f32(wb[size_t(r * K + col)]);
            s8 += double(x[size_t(t * K + r)]) * fp8_e4m3_to_f32(w8[size_t(r * K + col)]);
          }
          ASSERT_NEAR(yb[size_t(t * nc + col)], sb, 1e-4) << name << " gemv_t bf16";
          ASSERT_NEAR(yf[size_t(t * nc + col)], sb, 1e-4) << name << " gemv_t f32";
          ASSERT_NEAR(y8[size_t(t * nc + col)], s8, 1e-3 + 1e-5 * std::fabs(s8)) << name << " gemv_t fp8";
        }
    }

    const float scales[3] = {0.5f, 2.0f, 0.25f};
    for (int64_t nt = 1; nt <= 4; ++nt) {
      std::vector<float> yb(size_t(nt * R)), y8(size_t(nt * R));
      k->gemv_bf16(yb.data(), R, x.data(), K, nt, wb.data(), K, R, K);
      k->gemv_fp8(y8.data(), R, x.data(), K, nt, w8.data(), K, R, K, scales, 128);
      for (int64_t t = 0; t < nt; ++t)
        for (int64_t r = 0; r < R; ++r) {
          double sb = 0, s8 = 0;
          for (int64_t i = 0; i < K; ++i) {
            sb += double(x[size_t(t * K + i)]) * bf16_to_f32(wb[size_t(r * K + i)]);
            s8 += double(x[size_t(t * K + i)]) * fp8_e4m3_to_f32(w8[size_t(r * K + i)]) * scales[i / 128];
          }
          ASSERT_NEAR(yb[size_t(t * R + r)], sb, 1e-3) << name << " bf16 nt=" << nt;
          ASSERT_NEAR(y8[size_t(t * R + r)], s8, 1e-2 + 1e-5 * std::fabs(s8)) << name << " fp8 nt=" << nt;
        }
      if (!k->gemv_fp8_bf16) continue;
      // On BF16 dot products each activation · scale is rounded to 8 significant bits (relative
      // error <= 2^-9); the weights and the float32 sums are exact or nearly so. Scale blocks of
      // 128 columns and of 100 (not a whole number of vectors).
      for (const int64_t block : {int64_t(128), int64_t(100)}) {
        k->gemv_fp8_bf16(y8.data(), R, x.data(), K, nt, w8.data(), K, R, K, scales, block);
        for (int64_t t = 0; t < nt; ++t)
          for (int64_t r = 0; r < R; ++r) {
            double s8 = 0, mag = 0;
            for (int64_t i = 0; i < K; ++i) {
              const double p = double(x[size_t(t * K + i)]) * fp8_e4m3_to_f32(w8[size_t(r * K + i)]) * scales[i / block];
              s8 += p;
              mag += std::fabs(p);
            }
            ASSERT_NEAR(y8[size_t(t * R + r)], s8, 0x1p-9 * mag + 1e-5 * mag) << name << " fp8 bf16 block " << block;
          }
      }
    }
  }
}

// The float decode kernels at row lengths that end inside a step of widened pairs (k mod 32 of
// 12 and 20: the reordered columns end before the tail's lone vector), for 1-8 input rows: F32
// and BF16 against plain loops, and F32 weights holding BF16 values give BF16's sums bit for bit
// (both take the same lane order; a GGUF's F32 and BF16 files give the same logits). BF16 on
// BF16 dot products (where the ISA has them) within its activations' rounding.
TEST(IsaKernels, FloatDecodeKernelsAtEveryTailAndBatch) {
  for (const char* name : {"generic", "avx2", "avx512", "avx512bf16"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (!k) continue;
    for (const int64_t K : {int64_t(300), int64_t(308), int64_t(1300), int64_t(64)}) {
      const int64_t R = 19, ld = K + 3;  // input rows strided, not packed
      const auto x = random_vec(size_t(8 * ld), 21), wsrc = random_vec(size_t(R * K), 22);
      std::vector<uint16_t> wb(size_t(R * K));
      std::vector<float> wf(size_t(R * K));
      for (size_t i = 0; i < wb.size(); ++i) {
        wb[i] = f32_to_bf16(wsrc[i]);
        wf[i] = bf16_to_f32(wb[i]);
      }
      for (const int64_t nt : {int64_t(1), int64_t(3), int64_t(5), int64_t(8)}) {
        std::vector<float> yb(size_t(nt * R)), yf(size_t(nt * R));
        k->gemv_bf16(yb.data(), R, x.data(), ld, nt, wb.data(), K, R, K);
        k->gemv_f32(yf.data(), R, x.data(), ld, nt, wf.data(), K, R, K);
        std::vector<float> yd(size_t(nt * R));  // on BF16 dot products: x rounded to BF16 too
        if (k->gemv_bf16_bf16) k->gemv_bf16_bf16(yd.data(), R, x.data(), ld, nt, wb.data(), K, R, K);
        for (int64_t t = 0; t < nt; ++t)
          for (int64_t r = 0; r < R; ++r) {
            double s = 0, mag = 0;
            for (int64_t i = 0; i < K; ++i) {
              s += double(x[size_t(t * ld + i)]) * wf[size_t(r * K + i)];
              mag += std::fabs(double(x[size_t(t * ld + i)]) * wf[size_t(r * K + i)]);
            }
            ASSERT_NEAR(yb[size_t(t * R + r)], s, 1e-4 * std::sqrt(double(K))) << name << " K=" << K << " nt=" << nt;
            ASSERT_EQ(yf[size_t(t * R + r)], yb[size_t(t * R + r)]) << name << " K=" << K << " nt=" << nt;
            if (k->gemv_bf16_bf16) {
              ASSERT_NEAR(yd[size_t(t * R + r)], s, 0x1p-9 * mag + 1e-5 * mag) << name << " bf16 dot K=" << K << " nt=" << nt;
            }
          }
      }
    }
  }
}

// Every E4M3 code (subnormals and both zeros included, NaN excluded) through the FP8 decode
// kernels of every instruction set (x = 1 is exact in BF16 too): sums of 32 equal values are exact, so the result must be
// exactly 32 · value · scale.
TEST(IsaKernels, Fp8DecodeKernelsAreExactForEveryCode) {
  constexpr int64_t K = 32, R = 256;
  std::vector<uint8_t> rows(size_t(R * K)), cols(size_t(K * R));  // [code][K] and [K][code]
  for (int64_t c = 0; c < R; ++c)
    for (int64_t i = 0; i < K; ++i) {
      const uint8_t code = (c & 0x7F) == 0x7F ? 0 : uint8_t(c);
      rows[size_t(c * K + i)] = code;
      cols[size_t(i * R + c)] = code;
    }
  const std::vector<float> x(K, 1.0f);
  const float scale = 0.5f;
  for (const char* name : {"generic", "avx2", "avx512", "avx512bf16"}) {
    const IsaKernels* k = isa_kernels_by_name(name);
    if (!k) continue;
    std::vector<float> y(R), yt(R, 0.0f);
    k->gemv_fp8(y.data(), 1, x.data(), K, 1, rows.data(), K, R, K, &scale, 128);
    k->gemv_t_fp8(yt.data(), R, x.data(), K, 1, cols.data(), R, K, R);
    std::vector<float> yb(R, -1.0f);
    if (k->gemv_fp8_bf16) k->gemv_fp8_bf16(yb.data(), 1, x.data(), K, 1, rows.data(), K, R, K, &scale, 128);
    for (int64_t c = 0; c < R; ++c) {
      const float v = fp8_e4m3_to_f32(rows[size_t(c * K)]);
      ASSERT_EQ(y[size_t(c)], 32.0f * v * scale) << name << " gemv_fp8 code " << c;
      ASSERT_EQ(yt[size_t(c)], 32.0f * v) << name << " gemv_t_fp8 code " << c;
      if (k->gemv_fp8_bf16) {
        ASSERT_EQ(yb[size_t(c)], 32.0f * v * scale) << name << " gemv_fp8_bf16 code " << c;
      }
    }
  }
}

}  // namespace
}  // namespace dsv3
