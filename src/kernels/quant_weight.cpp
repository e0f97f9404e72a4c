#include "kernels/quant_weight.h"

#include <algorithm>
#include <numeric>

#include "core/dtype.h"
#include "core/error.h"

namespace dsv3 {

namespace {
size_t dm_index(const Int4Matrix& m, int64_t r, int64_t g, int which) {  // which: 0 d, 1 m
  if (!m.tiled) return size_t(2 * (r * m.groups() + g) + which);
  return size_t((r / kInt4TileRows) * m.tile_halves() + (2 * g + which) * kInt4TileRows + r % kInt4TileRows);
}
}  // namespace

int Int4Matrix::q(int64_t r, int64_t j) const {
  if (tiled) return int4_tile_code(packed.data() + (r / kInt4TileRows) * tile_bytes(), r % kInt4TileRows, j);
  // Row layout: per 64 columns, byte j % 32 holds column j (low nibble) and j + 32 (high).
  const uint8_t b = packed[size_t(r * row_bytes() + (j / 64) * 32 + j % 32)];
  return j % 64 < 32 ? b & 0x0F : b >> 4;
}

float Int4Matrix::d(int64_t r, int64_t g) const { return f16_to_f32(dm[dm_index(*this, r, g, 0)]); }
float Int4Matrix::m(int64_t r, int64_t g) const { return f16_to_f32(dm[dm_index(*this, r, g, 1)]); }

float Int4Matrix::value(int64_t r, int64_t c) const {
  const int64_t j = inv_perm.empty() ? c : inv_perm[size_t(c)];
  return int4_dequant(q(r, j), d(r, j / group), m(r, j / group));
}

int Int8Rows::code(int64_t r, int64_t c) const {
  if (!tiled) return codes[size_t(r * cols + c)];
  const size_t at = size_t((r / kInt8TileRows) * tile_bytes() + int8_tile_at(r % kInt8TileRows, c));
  return int(packed[at]) - 128;
}

float Int8Rows::scale(int64_t r, int64_t u) const {
  if (block) return block_scales[size_t((r / block) * block_cols() + u * kQuantUnit / block)];
  if (!tiled) return scales[size_t(r * units() + u)];
  return f16_to_f32(d[size_t((r / kInt8TileRows) * tile_halves() + int8_tile_scale_at(r % kInt8TileRows, u))]);
}

bool int8_tiles_pay(std::string_view name) { return name.find("kv_b_proj") == std::string_view::npos; }

Weight int8_rows_weight(const Int8Rows& m) {
  Weight w;
  w.dtype = DType::I8;
  w.rows = m.rows;
  w.cols = m.cols;
  w.data = m.tiled ? static_cast<const void*>(m.packed.data()) : m.codes.data();
  w.scale_inv = m.block ? m.block_scales.data() : m.tiled ? nullptr : m.scales.data();
  w.scale_cols = m.block ? m.block_cols() : m.units();
  w.block = int(m.block ? m.block : kQuantUnit);
  w.block_rows = int(m.block ? m.block : 1);
  w.int8 = &m;
  return w;
}

Int8Rows int8_tiles_from_blocks(const int8_t* codes, const float* scales, int64_t rows, int64_t cols, int64_t block) {
  if (block <= 0 || block % kQuantUnit != 0 || cols % kQuantUnit != 0)
    fail("int8_tiles_from_blocks: block ", block, " and columns ", cols, " must be multiples of ", kQuantUnit);
  Int8Rows m;
  m.rows = rows, m.cols = cols, m.tiled = true, m.block = block;
  m.block_scales.assign(scales, scales + (rows + block - 1) / block * m.block_cols());
  m.packed.assign(size_t(m.tiles() * m.tile_bytes()), 128);  // padding rows: w = 0
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t tile = 0; tile < m.tiles(); ++tile) {
    uint8_t* bytes = m.packed.data() + tile * m.tile_bytes();
    for (int64_t i = 0; i < kInt8TileRows && tile * kInt8TileRows + i < rows; ++i) {
      const int8_t* row = codes + (tile * kInt8TileRows + i) * cols;
      for (int64_t c = 0; c < cols; ++c) bytes[int8_tile_at(i, c)] = uint8_t(row[c] ^ 0x80);  // int8 w -> w + 128
    }
  }
  return m;
}

bool int4_tiles_pay(const Int4Matrix& m, std::string_view name) {
  return m.perm.empty() && name.find("kv_b_proj") == std::string_view::npos;
}

void int4_tile(Int4Matrix& m) {
  if (m.tiled) return;
  // In place, a tile at a time: a tile's 16 rows fill the same bytes (and halves) in both
  // layouts, so no second copy of the matrix is ever held (the padded last tile's are appended).
  const int64_t tiles = m.tiles(), tile_bytes = m.tile_bytes(), tile_halves = m.tile_halves();
  m.packed.resize(size_t(tiles * tile_bytes), 0);
  m.dm.resize(size_t(tiles * tile_halves), 0);
#pragma omp parallel for schedule(static) if (m.rows * m.cols > (1 << 16))
  for (int64_t tile = 0; tile < tiles; ++tile) {
    std::vector<uint8_t> codes(size_t(kInt4TileRows * m.padded_cols));  // [16, padded_cols], column order
    uint8_t* bytes = m.packed.data() + tile * tile_bytes;
    for (int64_t i = 0; i < kInt4TileRows; ++i)
      for (int64_t j = 0; j < m.padded_cols; ++j)
        codes[size_t(i * m.padded_cols + j)] = uint8_t(m.q(tile * kInt4TileRows + i, j));  // still rows
    for (int64_t i = 0; i < kInt4TileRows; ++i)
      for (int64_t c = 0; c < m.padded_cols; c += 8)
        for (int64_t b = 0; b < 4; ++b) {
          const uint8_t* row = codes.data() + i * m.padded_cols;
          bytes[c * 8 + i * 4 + b] = uint8_t(row[c + b] | row[c + 4 + b] << 4);
        }
    uint16_t* dm = m.dm.data() + tile * tile_halves;
    const std::vector<uint16_t> rows_dm(dm, dm + tile_halves);  // [16, groups, 2] -> [groups, 2, 16]
    for (int64_t i = 0; i < kInt4TileRows; ++i)
      for (int64_t g = 0; g < m.groups(); ++g)
        for (int64_t which = 0; which < 2; ++which)
          dm[(2 * g + which) * kInt4TileRows + i] = rows_dm[size_t((i * m.groups() + g) * 2 + which)];
  }
  m.tiled = true;
}

void int4_choose_layout(Int4Matrix& m, std::string_view name) {
  if (int4_tiles_pay(m, name)) int4_tile(m);
}

namespace {
// Packed column j ↔ input column: sorted by group (stable), checked to give equal groups.
template <typename View>
std::vector<int32_t> act_order(const View& v, const char* what) {
  bool natural = true;
  for (int64_t i = 0; i < v.in; ++i) {
    const int64_t g = v.group_of(i);
    if (g < 0 || g >= v.groups()) fail(what, ": g_idx[", i, "] = ", g, " is outside [0, ", v.groups(), ")");
    natural = natural && g == i / v.group_size;
  }
  if (natural) return {};
  std::vector<int32_t> perm(size_t(v.in));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return v.group_of(a) < v.group_of(b); });
  for (int64_t j = 0; j < v.in; ++j)
    if (v.group_of(perm[size_t(j)]) != j / v.group_size)
      fail(what, ": act-order g_idx with groups of unequal size is not supported");
  return perm;
}
// Any 4-bit view with q(i, o), zero(g, o), F16 scales [groups, out] and group_of(i).
template <typename View>
Int4Matrix repack(const View& v, const char* what) {
  if (v.group_size % kQuantUnit != 0) fail(what, ": group size ", v.group_size, " is not a multiple of ", kQuantUnit);
  Int4Matrix m;
  m.rows = v.out;
  m.cols = v.in;
  m.group = v.group_size;
  m.padded_cols = (v.in + 63) / 64 * 64;
  m.padded_cols = (m.padded_cols + m.group - 1) / m.group * m.group;  // whole groups
  m.perm = act_order(v, what);
  if (!m.perm.empty()) {
    m.inv_perm.resize(m.perm.size());
    for (size_t j = 0; j < m.perm.size(); ++j) m.inv_perm[size_t(m.perm[j])] = int32_t(j);
  }
  m.packed.assign(size_t(m.rows * m.row_bytes()), 0);
  m.dm.assign(size_t(m.rows * m.groups() * 2), 0);
#pragma omp parallel for schedule(static) if (v.out * v.in > (1 << 16))
  for (int64_t r = 0; r < v.out; ++r) {
    uint8_t* row = m.packed.data() + r * m.row_bytes();
    for (int64_t j = 0; j < v.in; ++j) {
      const int64_t i = m.perm.empty() ? j : m.perm[size_t(j)];
      const uint8_t q = uint8_t(v.q(i, r));
      row[(j / 64) * 32 + j % 32] |= j % 64 < 32 ? q : uint8_t(q << 4);
    }
    for (int64_t g = 0; g < v.groups(); ++g) {
      // Every column of packed group g has GPTQ group g (natural order or checked act-order).
      const float d = v.scale(g, r);
      uint16_t* p = m.dm.data() + 2 * (r * m.groups() + g);
      p[0] = v.scales[g * v.out + r];
      p[1] = f32_to_f16(-float(v.zero(g, r)) * d);
    }
  }
  return m;
}

}  // namespace

Int4Matrix int4_from_gptq(const GptqView& v, const char* what) {
  if (v.bits != 4) fail(what, ": ", v.bits, "-bit GPTQ is not supported (4-bit only)");
  return repack(v, what);
}

Int4Matrix int4_from_awq(const AwqView& v, const char* what) { return repack(v, what); }

}  // namespace dsv3
