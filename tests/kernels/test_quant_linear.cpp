// The INT8 (block-scaled) and INT4 (GPTQ groups) products: every instruction set's kernel
// against a double-precision sum over the same quantized activations, and linear() against the
// float product with a tolerance derived from the activation rounding (half a step per unit).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <tuple>

#include "core/dtype.h"
#include "core/int_quant.h"
#include "kernels/int8_gemm.h"
#include "kernels/int8_gemm_kernel.h"
#include "kernels/linear.h"
#include "kernels/quant_kernels.h"
#include "kernels/quant_linear.h"
#include "kernels/quant_weight.h"
#include "model/quant_bind.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::random_vec;

struct Int8Case {  // a block-scaled INT8 weight and its exact values
  Int8Blocks q;
  std::vector<float> values;
  Weight w;
};

Int8Case make_int8(int64_t R, int64_t C, uint32_t seed, int64_t block = 128) {
  Int8Case m;
  const auto f = random_vec(size_t(R * C), seed, 0.05f);
  m.q = int8_encode_blocks(f.data(), R, C, block);
  m.q.codes[0] = -128;  // the one code the encoder never writes, but other writers may
  m.values.resize(f.size());
  int8_decode_blocks(m.q, R, C, block, m.values.data());
  m.w.dtype = DType::I8;
  m.w.rows = R;
  m.w.cols = C;
  m.w.data = m.q.codes.data();
  m.w.scale_inv = m.q.scale_inv.data();
  m.w.scale_cols = (C + block - 1) / block;
  m.w.block = m.w.block_rows = int(block);
  return m;
}

// GGUF Q8_0 (one F16 scale per 32 values of each row, kernels/quant_weight.h), split as the
// loader splits a file's blocks: in rows (the name of a kv_b_proj) or in 16-row tiles.
struct Int8RowsCase {
  Int8Rows q;
  std::vector<float> values;
  Weight w;
};

Int8RowsCase make_int8_rows(int64_t R, int64_t C, uint32_t seed, bool tiled = false) {
  EXPECT_EQ(C % kQuantUnit, 0);
  Int8RowsCase m;
  std::mt19937 rng(seed);
  const int64_t units = C / kQuantUnit;
  std::vector<uint8_t> blocks(size_t(R * units * 34));
  m.values.resize(size_t(R * C));
  for (int64_t b = 0; b < R * units; ++b) {
    uint8_t* p = blocks.data() + b * 34;
    const uint16_t d = f32_to_f16(1e-4f * float(1 + rng() % 100));
    p[0] = uint8_t(d & 0xFF), p[1] = uint8_t(d >> 8);
    for (int64_t j = 0; j < 32; ++j) {
      const int8_t q = int8_t(int(rng() % 256) - 128);
      p[2 + j] = uint8_t(q);
      m.values[size_t(b * 32 + j)] = float(q) * f16_to_f32(d);
    }
  }
  m.q = int8_from_q8_0(blocks.data(), R, C, tiled ? "model.layers.0.mlp.down_proj.q8_0" : "model.layers.0.self_attn.kv_b_proj.q8_0");
  m.w = int8_rows_weight(m.q);
  return m;
}

// Block-scaled INT8 in 16-row tiles (int8_tiles_from_blocks, what the loaders keep), from the
// encoder make_int8 uses; block 32 puts a 33-row matrix's tiles in 2 block rows.
Int8RowsCase make_int8_block_tiles(int64_t R, int64_t C, uint32_t seed, int64_t block = 128) {
  const Int8Case rows = make_int8(R, C, seed, block);
  Int8RowsCase m;
  m.values = rows.values;
  m.q = int8_tiles_from_blocks(rows.q.codes.data(), rows.q.scale_inv.data(), R, C, block);
  m.w = int8_rows_weight(m.q);
  return m;
}

struct Int4Case {
  GptqTensors g;
  Int4Matrix m;
  std::vector<float> values;
  Weight w;
};

// act_order: g_idx shuffled (each group keeps group_size columns), as GPTQ's desc_act writes;
// tiled: in the 16-row tiles (int4_tile), else in the row layout.
Int4Case make_int4(int64_t R, int64_t C, int64_t group, uint32_t seed, bool act_order = false, bool tiled = false) {
  Int4Case c;
  const auto f = random_vec(size_t(R * C), seed, 0.05f);
  c.g = gptq_encode(f.data(), R, C, 4, group, true);
  if (act_order) std::shuffle(c.g.g_idx.begin(), c.g.g_idx.end(), std::mt19937(seed));
  const GptqView v = c.g.view(R, C, 4, group);
  c.m = int4_from_gptq(v, "test");
  if (tiled) int4_tile(c.m);
  c.values.resize(size_t(R * C));
  gptq_decode(v, c.values.data());
  c.w.dtype = DType::U8;
  c.w.rows = R;
  c.w.cols = C;
  c.w.data = c.m.packed.data();
  c.w.int4 = &c.m;
  return c;
}

// y = x̂ · Wᵀ in double over the activations linear() quantizes, plus the float product and
// the bound on their difference that the rounding of x allows.
struct Reference {
  std::vector<double> exact_q, exact_f, bound;
};

Reference reference(const std::vector<float>& values, int64_t R, int64_t C, const std::vector<float>& x, int64_t n) {
  const int64_t padded = (C + 31) / 32 * 32, units = padded / 32;
  std::vector<int8_t> q(size_t(n * padded));
  std::vector<float> d(size_t(n * units)), s(size_t(n * units));
  quantize_activations(q.data(), d.data(), s.data(), x.data(), n, C, padded, nullptr);
  Reference ref;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < R; ++r) {
      double yq = 0, yf = 0, b = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double w = values[size_t(r * C + c)];
        yq += w * double(q[size_t(t * padded + c)]) * d[size_t(t * units + c / 32)];
        yf += w * x[size_t(t * C + c)];
        b += std::fabs(w) * (0.5 * d[size_t(t * units + c / 32)] + 1e-5 * std::fabs(x[size_t(t * C + c)]));
      }
      ref.exact_q.push_back(yq);
      ref.exact_f.push_back(yf);
      ref.bound.push_back(b + 1e-6);
    }
  return ref;
}

void expect_matches(const std::vector<float>& y, const Reference& ref, const char* what) {
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref.exact_f[i], ref.bound[i]) << what << " i=" << i;
}

// Up to 8 rows every product runs the decode kernels, whose sums do not depend on the other
// rows or on the slice: bit-equal. Above, INT8 may run int8_gemm, which sums each 32-column unit
// whole before scaling it (the decode kernels scale 4-column partial sums), so the two agree to
// float rounding only, as the float path's GEMM and gemv do.
void expect_same_sum(float a, float b, int64_t n) {
  if (n <= 8) ASSERT_EQ(a, b);
  else ASSERT_NEAR(a, b, 1e-5f * (1.0f + std::fabs(b))) << "n=" << n;
}

struct Shape {
  int64_t rows, cols, n;
};

class QuantLinear : public ::testing::TestWithParam<Shape> {};

TEST_P(QuantLinear, Int8MatchesTheFloatProductWithinTheActivationRounding) {
  const Shape s = GetParam();
  const Int8Case m = make_int8(s.rows, s.cols, 1);
  const auto x = random_vec(size_t(s.n * s.cols), 2);
  std::vector<float> y(size_t(s.n * s.rows));
  linear(y.data(), x.data(), s.n, m.w);
  expect_matches(y, reference(m.values, s.rows, s.cols, x, s.n), "int8");
  for (const bool tiled : {false, true}) {
    if (s.cols % 32 != 0) break;  // Q8_0 is whole blocks of 32 (the loader checks)
    const Int8RowsCase q = make_int8_rows(s.rows, s.cols, 12, tiled);
    linear(y.data(), x.data(), s.n, q.w);
    expect_matches(y, reference(q.values, s.rows, s.cols, x, s.n), tiled ? "Q8_0 tiles" : "Q8_0 rows");
  }
  if (s.cols % 32 == 0) {
    const Int8RowsCase t = make_int8_block_tiles(s.rows, s.cols, 3, 32);
    linear(y.data(), x.data(), s.n, t.w);
    expect_matches(y, reference(t.values, s.rows, s.cols, x, s.n), "int8 block tiles");
  }
}

TEST_P(QuantLinear, Int4MatchesTheFloatProductWithinTheActivationRounding) {
  const Shape s = GetParam();
  for (int64_t group : {32, 128}) {
    // natural order in rows and in tiles, act-order (rows only: it is never tiled)
    for (const auto& [act_order, tiled] : {std::pair{false, false}, {false, true}, {true, false}}) {
      const Int4Case m = make_int4(s.rows, s.cols, group, 3, act_order, tiled);
      const auto x = random_vec(size_t(s.n * s.cols), 4);
      std::vector<float> y(size_t(s.n * s.rows));
      linear(y.data(), x.data(), s.n, m.w);
      if (!act_order) {
        expect_matches(y, reference(m.values, s.rows, s.cols, x, s.n), "int4");
        continue;
      }
      // Act-order quantizes the permuted activations: the bound is the same, the units differ.
      const Reference ref = reference(m.values, s.rows, s.cols, x, s.n);
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref.exact_f[i], 2 * ref.bound[i]) << "act-order i=" << i;
    }
  }
}

TEST_P(QuantLinear, RowSliceAndRowWideningSeeTheSameWeights) {
  const Shape s = GetParam();
  const Int8Case a = make_int8(s.rows, s.cols, 5);
  const Int4Case b = make_int4(s.rows, s.cols, 32, 6, true);
  const Int4Case e = make_int4(s.rows, s.cols, 32, 14, false, true);  // tiled: the slice starts inside a tile
  const int64_t r0 = s.rows / 3, nr = s.rows - r0 - 1;
  const auto x = random_vec(size_t(s.n * s.cols), 7);
  std::vector<std::pair<const Weight*, const std::vector<float>*>> cases{
      {&a.w, &a.values}, {&b.w, &b.values}, {&e.w, &e.values}};
  const int64_t q8_cols = s.cols % 32 == 0 ? s.cols : 32;  // Q8_0 is whole blocks of 32
  const Int8RowsCase c = make_int8_rows(s.rows, q8_cols, 13), f = make_int8_rows(s.rows, q8_cols, 15, true);
  const Int8RowsCase g = make_int8_block_tiles(s.rows, q8_cols, 16, 32);
  if (s.cols % 32 == 0) cases.insert(cases.end(), {{&c.w, &c.values}, {&f.w, &f.values}, {&g.w, &g.values}});
  for (const auto& [w, values_of] : cases) {
    const std::vector<float>& values = *values_of;
    std::vector<float> full(size_t(s.n * s.rows)), part(size_t(s.n * nr)), row(size_t(s.cols));
    linear(full.data(), x.data(), s.n, *w);
    linear(part.data(), x.data(), s.n, w->rows_slice(r0, nr));
    for (int64_t t = 0; t < s.n; ++t)
      for (int64_t r = 0; r < nr; ++r) expect_same_sum(part[size_t(t * nr + r)], full[size_t(t * s.rows + r0 + r)], s.n);
    for (int64_t r = 0; r < s.rows; ++r) {
      weight_row_f32(row.data(), *w, r);
      for (int64_t col = 0; col < s.cols; ++col) ASSERT_FLOAT_EQ(row[size_t(col)], values[size_t(r * s.cols + col)]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, QuantLinear,
                         ::testing::Values(Shape{130, 256, 1}, Shape{67, 96, 3}, Shape{40, 200, 8}, Shape{33, 320, 13},
                                           Shape{129, 64, 5}));

// Every instruction set's kernels against the double sum over the same quantized activations:
// only the float summation order differs. Shapes: a 32-column tail past the 64-byte steps
// (288), a long row (1024), row counts that are not multiples of 16; INT8 in 128 x 128 blocks
// and in Q8_0's rows of 32 (one call per row, and all rows in one call) and tiles, INT4 in groups
// of 32 to 256.
TEST(QuantKernels, EveryInstructionSetMatchesTheExactIntegerSums) {
  for (const auto& [R, C] : {std::pair<int64_t, int64_t>{9, 288}, {17, 1024}, {33, 352}}) {
    const Int8Case a = make_int8(R, C, 8);
    const Int8RowsCase a32 = make_int8_rows(R, C, 12), t32 = make_int8_rows(R, C, 17, true);
    const Int8RowsCase bt = make_int8_block_tiles(R, C, 18, 32);
    std::vector<Int4Case> int4;
    for (int64_t group : {32, 64, 128, 256}) int4.push_back(make_int4(R, C, group, uint32_t(9 + group)));
    std::vector<Int4Case> tiled;
    for (int64_t group : {32, 128, 256}) tiled.push_back(make_int4(R, C, group, uint32_t(19 + group), false, true));
    const int64_t padded = int4.back().m.padded_cols, units = padded / 32;  // the widest
    auto x = random_vec(size_t(8 * C), 11);
    std::fill(x.begin() + 5 * C, x.begin() + 6 * C, 0.0f);  // a row of zeros: every d = 0
    std::vector<int8_t> q(size_t(8 * padded));
    std::vector<float> d(size_t(8 * units)), s(size_t(8 * units));
    quantize_activations(q.data(), d.data(), s.data(), x.data(), 8, C, padded, nullptr);
    const QuantRows rows{q.data(), d.data(), s.data(), padded, units};
    for (const char* name : {"generic", "avx2", "avx512"}) {
      const QuantKernels* k = quant_kernels_by_name(name);
      if (!k) continue;
      for (int64_t nt = 1; nt <= 8; ++nt) {
        std::vector<std::pair<std::vector<float>, const std::vector<float>*>> got;
        got.emplace_back(std::vector<float>(size_t(nt * R)), &a.values);
        k->gemv_i8(got.back().first.data(), R, rows, nt, a.q.codes.data(), C, R, C, a.q.scale_inv.data(), 128);
        got.emplace_back(std::vector<float>(size_t(nt * R)), &a32.values);
        for (int64_t r = 0; r < R; ++r)
          k->gemv_i8(got.back().first.data() + r, R, rows, nt, a32.q.codes.data() + r * C, C, 1, C,
                     a32.q.scales.data() + r * a32.w.scale_cols, 32);
        got.emplace_back(std::vector<float>(size_t(nt * R)), &a32.values);  // all rows in one call
        k->gemv_i8_rows(got.back().first.data(), R, rows, nt, a32.q.codes.data(), C, R, C, a32.q.scales.data(),
                        a32.w.scale_cols);
        {  // Q8_0 tiles: every tile, the last one's padding rows dropped
          const int64_t ldt = t32.q.tiles() * kInt8TileRows;
          std::vector<float> all(size_t(nt * ldt));
          k->gemv_i8_tiles(all.data(), ldt, rows, nt, t32.q.packed.data(), t32.q.d.data(), t32.q.tiles(), C);
          got.emplace_back(std::vector<float>(size_t(nt * R)), &t32.values);
          for (int64_t t = 0; t < nt; ++t) std::copy_n(all.data() + t * ldt, R, got.back().first.data() + t * R);
        }
        {  // block-scaled INT8 tiles: every tile (row slices start at a later tile: RowSlice...)
          const int64_t ldt = bt.q.tiles() * kInt8TileRows;
          std::vector<float> all(size_t(nt * ldt));
          k->gemv_i8_block_tiles(all.data(), ldt, rows, nt, bt.q.packed.data(), 0, bt.q.tiles(), C,
                                 bt.q.block_scales.data(), bt.q.block_cols(), bt.q.block);
          got.emplace_back(std::vector<float>(size_t(nt * R)), &bt.values);
          for (int64_t t = 0; t < nt; ++t) std::copy_n(all.data() + t * ldt, R, got.back().first.data() + t * R);
        }
        for (const Int4Case& b : int4) {
          got.emplace_back(std::vector<float>(size_t(nt * R)), &b.values);
          k->gemv_i4(got.back().first.data(), R, rows, nt, b.m.packed.data(), b.m.row_bytes(), b.m.dm.data(),
                     2 * b.m.groups(), R, b.m.padded_cols, b.m.group);
        }
        for (const Int4Case& b : tiled) {  // every tile, the last one's padding rows dropped
          const int64_t ldt = b.m.tiles() * kInt4TileRows;
          std::vector<float> all(size_t(nt * ldt));
          k->gemv_i4_tiles(all.data(), ldt, rows, nt, b.m.packed.data(), b.m.dm.data(), b.m.tiles(), b.m.padded_cols,
                           b.m.group);
          got.emplace_back(std::vector<float>(size_t(nt * R)), &b.values);
          for (int64_t t = 0; t < nt; ++t) std::copy_n(all.data() + t * ldt, R, got.back().first.data() + t * R);
        }
        for (size_t i = 0; i < got.size(); ++i)
          for (int64_t t = 0; t < nt; ++t)
            for (int64_t r = 0; r < R; ++r) {
              double e = 0, mag = 0;
              for (int64_t c = 0; c < C; ++c) {
                const double v = double((*got[i].second)[size_t(r * C + c)]) * q[size_t(t * padded + c)] *
                                 d[size_t(t * units + c / 32)];
                e += v;
                mag += std::fabs(v);
              }
              ASSERT_NEAR(got[i].first[size_t(t * R + r)], e, 2e-6 * mag + 1e-7)
                  << name << " C=" << C << " case " << i << " nt=" << nt << " t=" << t << " r=" << r;
            }
      }
    }
  }
}

// Speculative verification needs a row's result not to depend on the batch (decode and prefill).
TEST(QuantKernels, ARowsResultDoesNotDependOnTheOtherRows) {
  const Int8Case a = make_int8(45, 320, 12);
  const Int4Case b = make_int4(45, 320, 128, 13);
  const Int4Case c = make_int4(45, 320, 32, 15, false, true);
  const Int8RowsCase d = make_int8_rows(45, 320, 16), e = make_int8_rows(45, 320, 18, true);
  const Int8RowsCase f = make_int8_block_tiles(45, 320, 19, 32);
  const auto x = random_vec(size_t(13 * 320), 14);
  for (const Weight* w : {&a.w, &b.w, &c.w, &d.w, &e.w, &f.w}) {
    for (int64_t n : {8, 13}) {
      std::vector<float> all(size_t(n * 45)), one(45);
      linear(all.data(), x.data(), n, *w);
      for (int64_t t = 0; t < n; ++t) {
        linear(one.data(), x.data() + t * 320, 1, *w);
        for (int64_t r = 0; r < 45; ++r) expect_same_sum(one[size_t(r)], all[size_t(t * 45 + r)], n);
      }
    }
  }
}

// linear_t of v (rows r0.. of a matrix whose weights are `values`, C columns) for 1 to 8 input
// rows against the double sum over the stored weights.
void expect_transposed_product(const Weight& v, const std::vector<float>& values, int64_t r0, int64_t C) {
  const int64_t R = v.rows;
  for (int64_t n : {1, 3, 8}) {
    const auto x = random_vec(size_t(n * R), uint32_t(23 + n));
    std::vector<float> y(size_t(n * C));
    linear_t(y.data(), x.data(), n, v);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t col = 0; col < C; ++col) {
        double e = 0, mag = 0;
        for (int64_t r = 0; r < R; ++r) {
          const double p = double(x[size_t(t * R + r)]) * values[size_t((r0 + r) * C + col)];
          e += p;
          mag += std::fabs(p);
        }
        ASSERT_NEAR(y[size_t(t * C + col)], e, 1e-5 * mag + 1e-7) << "n=" << n << " t=" << t << " c=" << col;
      }
  }
}

// The tiled layout holds the row layout's codes and (d, m), read back through q(), d(), m()
// and value() (rows not a multiple of 16, groups of 32 and 128, a 64-column tail); a tiled
// matrix's transposed product and row spans widen it value by value. Likewise Q8_0's codes and
// scales (code(), scale(), value()).
TEST(QuantKernels, TilesHoldTheRowLayoutsWeights) {
  for (const auto& [R, C, group] : {std::tuple<int64_t, int64_t, int64_t>{17, 1024, 128}, {40, 320, 32}}) {
    const Int4Case rows = make_int4(R, C, group, 50), tiles = make_int4(R, C, group, 50, false, true);
    ASSERT_TRUE(tiles.m.tiled);
    EXPECT_EQ(tiles.m.packed.size(), size_t(((R + 15) / 16) * 16 * tiles.m.row_bytes()));
    for (int64_t r = 0; r < R; ++r) {
      for (int64_t j = 0; j < rows.m.padded_cols; ++j) ASSERT_EQ(tiles.m.q(r, j), rows.m.q(r, j)) << r << "," << j;
      for (int64_t g = 0; g < rows.m.groups(); ++g) {
        ASSERT_EQ(tiles.m.d(r, g), rows.m.d(r, g));
        ASSERT_EQ(tiles.m.m(r, g), rows.m.m(r, g));
      }
      for (int64_t c = 0; c < C; ++c) ASSERT_EQ(tiles.m.value(r, c), tiles.values[size_t(r * C + c)]) << r << "," << c;
    }
    expect_transposed_product(tiles.w.rows_slice(1, R - 1), tiles.values, 1, C);
    // Q8_0: the same blocks in rows and in tiles.
    const Int8RowsCase q_rows = make_int8_rows(R, C, 51), q_tiles = make_int8_rows(R, C, 51, true);
    ASSERT_FALSE(q_rows.q.tiled);
    ASSERT_TRUE(q_tiles.q.tiled);
    EXPECT_EQ(q_tiles.q.packed.size(), size_t(((R + 15) / 16) * 16 * C));
    EXPECT_EQ(q_tiles.q.d.size(), size_t(((R + 15) / 16) * 16 * C / 32));
    for (int64_t r = 0; r < R; ++r) {
      for (int64_t c = 0; c < C; ++c) ASSERT_EQ(q_tiles.q.code(r, c), q_rows.q.code(r, c)) << r << "," << c;
      for (int64_t u = 0; u < C / 32; ++u) ASSERT_EQ(q_tiles.q.scale(r, u), q_rows.q.scale(r, u)) << r << "," << u;
      for (int64_t c = 0; c < C; ++c) ASSERT_EQ(q_tiles.q.value(r, c), q_tiles.values[size_t(r * C + c)]) << r << "," << c;
    }
    expect_transposed_product(q_tiles.w.rows_slice(1, R - 1), q_tiles.values, 1, C);
    // Block-scaled INT8: the encoder's codes and block scales, value by value.
    const Int8RowsCase b_tiles = make_int8_block_tiles(R, C, 52, 32);
    EXPECT_EQ(b_tiles.q.packed.size(), size_t(((R + 15) / 16) * 16 * C));
    EXPECT_TRUE(b_tiles.q.d.empty());
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) ASSERT_EQ(b_tiles.q.value(r, c), b_tiles.values[size_t(r * C + c)]) << r << "," << c;
    expect_transposed_product(b_tiles.w.rows_slice(1, R - 1), b_tiles.values, 1, C);
  }
}

// Spans of a row widen to the stored weights (a block or unit at a time, from any column), and
// the transposed product (MLA's W_UK absorption) reads them so.
TEST(QuantKernels, RowSpansAndTransposedProductSeeTheStoredWeights) {
  const int64_t R = 5, C = 300;
  const Int8Case a = make_int8(R, C, 20);
  const Int4Case b = make_int4(R, C, 32, 21), c = make_int4(R, C, 128, 22);
  for (const auto& [w, values] : {std::pair{&a.w, &a.values}, {&b.w, &b.values}, {&c.w, &c.values}}) {
    const Weight v = w->rows_slice(1, R - 1);
    for (const auto& [c0, nc] : {std::pair<int64_t, int64_t>{0, C}, {7, 100}, {250, 50}, {127, 2}})
      for (int64_t r = 0; r < R - 1; ++r) {
        std::vector<float> out(static_cast<size_t>(nc));
        weight_row_span_f32(out.data(), v, r, c0, nc);
        for (int64_t i = 0; i < nc; ++i) {
          const float want = w->int4 ? w->int4->value(1 + r, c0 + i) : (*values)[size_t((1 + r) * C + c0 + i)];
          ASSERT_EQ(out[size_t(i)], want) << "r=" << r << " c=" << c0 + i;
        }
      }
    expect_transposed_product(v, *values, 1, C);
  }
}

// linear_t on INT8 and INT4 codes (MLA's W_UK absorption: 128 rows x 512 columns of kv_b_proj
// per head), against the double sum: 1, 3 and 8 input rows, a column tail, a slice at row 1, INT8
// in 128 x 128 blocks and Q8_0 rows, INT4 in groups of 32 to 256 and in act-order.
TEST(QuantKernels, TransposedProductReadsTheCodes) {
  for (const int64_t C : {512, 300}) {
    const int64_t R = 24;
    const Int8Case a = make_int8(R, C, 30);
    const Int8RowsCase a32 = make_int8_rows(R, C / 32 * 32, 31);  // Q8_0: whole blocks of 32
    std::vector<Int4Case> int4;
    for (int64_t group : {32, 64, 128, 256}) int4.push_back(make_int4(R, C, group, uint32_t(32 + group)));
    int4.push_back(make_int4(R, C, 128, 33, true));
    for (Int4Case& b : int4) b.w.int4 = &b.m;  // moved into the vector
    expect_transposed_product(a.w.rows_slice(1, R - 1), a.values, 1, C);
    expect_transposed_product(a32.w.rows_slice(1, R - 1), a32.values, 1, a32.w.cols);
    for (const Int4Case& b : int4) expect_transposed_product(b.w.rows_slice(1, R - 1), b.values, 1, C);
  }
}

// Every instruction set's transposed kernels (gemv_t_i4, gemv_t_i8) against the double sum over
// the stored weights: column ranges starting at 0, 64 and 128 (whole 128-column tiles, a single
// 64-column block and a scalar tail), 1 to 8 input rows (pairs and a single one), rows 1.. of
// the matrix (a slice), INT4 groups of 32 to 256, INT8 128 x 128 blocks and Q8_0 rows.
TEST(QuantKernels, EveryInstructionSetsTransposedProductMatchesTheStoredWeights) {
  const int64_t R = 21, C = 512;
  const Int8Case a = make_int8(R, C, 40);
  const Int8RowsCase a32 = make_int8_rows(R, C, 41);
  std::vector<Int4Case> int4;
  for (int64_t group : {32, 64, 128, 256}) int4.push_back(make_int4(R, C, group, uint32_t(42 + group)));
  const int64_t nr = R - 1;
  const auto x = random_vec(size_t(8 * nr), 43);
  for (const char* name : {"generic", "avx2", "avx512"}) {
    const QuantKernels* k = quant_kernels_by_name(name);
    if (!k) continue;
    for (const auto& [c0, nc] : {std::pair<int64_t, int64_t>{0, 512}, {64, 300}, {128, 64}, {0, 40}})
      for (int64_t nt : {1, 2, 3, 8}) {
        std::vector<std::pair<std::vector<float>, const std::vector<float>*>> got;
        auto out = [&](const std::vector<float>* values) {
          got.emplace_back(std::vector<float>(size_t(nt * nc), 1.0f), values);  // the kernels add to y
          return got.back().first.data();
        };
        k->gemv_t_i8(out(&a.values), nc, x.data(), nr, nt, a.q.codes.data() + C, C, a.q.scale_inv.data(),
                     a.w.scale_cols, 1, 128, nr, c0, nc, 128);
        k->gemv_t_i8(out(&a32.values), nc, x.data(), nr, nt, a32.q.codes.data() + C, C, a32.q.scales.data(),
                     a32.w.scale_cols, 1, 1, nr, c0, nc, 32);
        for (const Int4Case& b : int4)
          k->gemv_t_i4(out(&b.values), nc, x.data(), nr, nt, b.m.packed.data() + b.m.row_bytes(), b.m.row_bytes(),
                       b.m.dm.data() + 2 * b.m.groups(), 2 * b.m.groups(), nr, c0, nc, b.m.group);
        for (size_t i = 0; i < got.size(); ++i)
          for (int64_t t = 0; t < nt; ++t)
            for (int64_t c = 0; c < nc; ++c) {
              double e = 1.0, mag = 1.0;
              for (int64_t r = 0; r < nr; ++r) {
                const double p = double(x[size_t(t * nr + r)]) * (*got[i].second)[size_t((1 + r) * C + c0 + c)];
                e += p;
                mag += std::fabs(p);
              }
              ASSERT_NEAR(got[i].first[size_t(t * nc + c)], e, 1e-5 * mag)
                  << name << " case " << i << " c0=" << c0 << " nt=" << nt << " t=" << t << " c=" << c;
            }
      }
  }
}

// linear_batch quantizes each distinct input once and splits INT8/INT4 rows over the threads with
// the float products: every output is what linear() gives, bit for bit, whether or not its input
// is shared (gate and up of an expert), has another width, or another column order (act-order).
TEST(QuantKernels, LinearBatchEqualsEachLinear) {
  const Int8Case a = make_int8(130, 256, 15);
  const Int4Case b = make_int4(70, 256, 32, 16);
  const Int4Case c = make_int4(40, 256, 128, 17, true);
  const Int8Case d = make_int8(33, 96, 18);
  const Int8RowsCase e = make_int8_rows(70, 256, 20, true);
  const auto x = random_vec(size_t(3 * 256), 19);
  const std::vector<std::pair<const Weight*, int64_t>> cases{{&a.w, 2}, {&b.w, 2}, {&c.w, 2}, {&d.w, 1}, {&a.w, 1},
                                                             {&e.w, 2}};
  std::vector<std::vector<float>> y, ref;
  std::vector<LinearJob> jobs;
  for (const auto& [w, n] : cases) {
    const float* xi = w == &d.w ? x.data() + 7 : x.data();  // another input, 96 columns wide
    y.emplace_back(size_t(n * w->rows), -1.0f);
    ref.emplace_back(y.back().size());
    linear(ref.back().data(), xi, n, *w);
    jobs.push_back({y.back().data(), xi, n, *w});
  }
  linear_batch(jobs.data(), jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) EXPECT_EQ(y[j], ref[j]) << "job " << j;
}

// The prefill GEMM on vpdpbusd (int8_gemm) against the scalar reference kernel over the same
// quantized activations: row, column and depth tails, and a row slice starting inside the matrix.
TEST(Int8Gemm, MatchesTheScalarKernelOnTheSameRoundedActivations) {
  const Int8Case base = make_int8(45, 128, 30);
  if (!int8_gemm_fits(base.w)) GTEST_SKIP() << "no AVX-512 VNNI here (or DSV3_ISA chose another set)";
  const QuantKernels& scalar = *quant_kernels_generic();
  for (const Shape s : {Shape{45, 320, 13}, Shape{130, 201, 37}, Shape{256, 97, 9}, Shape{33, 1024, 64}}) {
    const Int8Case m = make_int8(s.rows, s.cols, 31);
    for (const int64_t row0 : {int64_t(0), s.rows > 128 ? int64_t(128) : int64_t(0)}) {
      const Weight w = m.w.rows_slice(row0, s.rows - row0);
      ASSERT_TRUE(int8_gemm_fits(w));
      const auto x = random_vec(size_t(s.n * s.cols), 32);
      std::vector<float> y(size_t(s.n * w.rows)), ref(y.size());
      int8_gemm(y.data(), x.data(), s.n, w);
      QuantActs a;
      quantize_for(a, x.data(), s.n, w);
      for (int64_t r = 0; r < w.rows; ++r) {  // the scalar kernel takes rows sharing one block row
        const float* scales = w.scale_inv + ((row0 + r) / 128) * w.scale_cols;
        const QuantRows rows{a.q.data(), a.d.data(), a.s.data(), a.ldq, a.ldd};
        scalar.gemv_i8(ref.data() + r, w.rows, rows, s.n, reinterpret_cast<const int8_t*>(w.row_ptr(r)), s.cols, 1,
                       s.cols, scales, 128);
      }
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], 1e-5f * (1.0f + std::fabs(ref[i]))) << s.rows << "x" << s.cols << " n=" << s.n
                                                                       << " row0=" << row0 << " i=" << i;
    }
  }
}

TEST(Int8Gemm, RoundsActivationsExactlyAsDecodeDoes) {
  if (!int8_gemm_fits(make_int8(32, 32, 40).w)) GTEST_SKIP() << "no AVX-512 VNNI here";
  for (const int64_t k : {32, 200, 1024}) {
    const int64_t n = 7, ldq = (k + 31) / 32 * 32, units = ldq / 32;
    auto x = random_vec(size_t(n * k), 41);
    x[0] = 0.0f, x[1] = 2.5f / 127.0f * 3.0f;  // a tie after scaling falls to even in both
    std::vector<int8_t> q(size_t(n * ldq)), q_ref(q.size());
    std::vector<float> d(size_t(n * units)), d_ref(d.size()), s_ref(d.size());
    std::vector<int32_t> nsum(d.size());
    int8_quantize_rows_avx512(q.data(), d.data(), nsum.data(), x.data(), n, k, ldq);
    quantize_activations_scalar(q_ref.data(), d_ref.data(), s_ref.data(), x.data(), n, k, ldq, nullptr);
    EXPECT_EQ(q, q_ref) << "k=" << k;
    EXPECT_EQ(d, d_ref) << "k=" << k;
    for (int64_t i = 0; i < n * units; ++i)
      EXPECT_EQ(nsum[size_t(i)], -128 * std::accumulate(&q_ref[size_t(i * 32)], &q_ref[size_t(i * 32)] + 32, 0));
  }
}

}  // namespace
}  // namespace dsv3

namespace dsv3 {
namespace {

// quantize_activations (vectorized where the VNNI kernels run) against its scalar reference:
// the same codes, scales and sums, bit for bit, with zeros, a zero row, huge values, a tail
// unit, and act-order's column permutation.
TEST(QuantKernels, ActivationRoundingEqualsTheScalarReference) {
  for (const int64_t k : {32, 200, 1024}) {
    const int64_t n = 5, padded = (k + 63) / 64 * 64, units = padded / 32;
    auto x = random_vec(size_t(n * k), 42);
    std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);
    x[0] = 3e38f, x[2 * k + 1] = -3e38f, x[3 * k] = 0.0f;
    std::vector<int32_t> perm(static_cast<size_t>(k));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937(43));
    for (const int32_t* p : {static_cast<const int32_t*>(nullptr), static_cast<const int32_t*>(perm.data())}) {
      std::vector<int8_t> q(size_t(n * padded)), q_ref(q.size());
      std::vector<float> d(size_t(n * units)), d_ref(d.size()), s(d.size()), s_ref(d.size());
      quantize_activations(q.data(), d.data(), s.data(), x.data(), n, k, padded, p);
      quantize_activations_scalar(q_ref.data(), d_ref.data(), s_ref.data(), x.data(), n, k, padded, p);
      EXPECT_EQ(q, q_ref) << "k=" << k;
      EXPECT_EQ(d, d_ref) << "k=" << k;
      EXPECT_EQ(s, s_ref) << "k=" << k;
    }
  }
}

}  // namespace
}  // namespace dsv3
