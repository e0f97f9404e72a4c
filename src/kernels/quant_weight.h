// INT4 weights in the layout the decode kernels stream, repacked once at load from a
// checkpoint's GPTQ tensors (whose [in, out] packing suits GPUs, not a row-at-a-time CPU dot).
//
// Memory: 0.5 byte per weight plus 4 bytes per group (F16 d and m), e.g. 4.25 bits per weight
// at group 128 and 5 at group 32, owned by the loaded model; the checkpoint's own INT4 pages
// are read once and stay only as reclaimable page cache. INT8 block weights (blockwise_int8) and
// GGUF Q8_0 are split into Int8Rows's 16-row tiles the same way, but for kv_b_proj (its block
// INT8 rows are read in place, a Weight with dtype I8 like FP8; its Q8_0 in Int8Rows's rows).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/huge_pages.h"
#include "core/int_quant.h"
#include "kernels/weight.h"

namespace dsv3 {

// Activations are quantized to int8 in units of this many columns (one scale each); every
// weight group and block is a whole number of units.
constexpr int64_t kQuantUnit = 32;

// w = q · d + m, the one formula every reader of an Int4Matrix uses (so all agree bit for bit).
inline float int4_dequant(int q, float d, float m) { return float(q) * d + m; }

// Rows interleaved per tile in Int4Matrix's tiled layout (one zmm of int32 partial sums).
constexpr int64_t kInt4TileRows = 16;

// Row i's code at column c of one tile in Int4Matrix's tiled layout: the one statement of the
// tile's nibble rule, shared by Int4Matrix::q and the scalar reference kernel.
inline int int4_tile_code(const uint8_t* tile, int64_t i, int64_t c) {
  const uint8_t b = tile[(c / 8) * 64 + 4 * i + c % 4];
  return c % 8 < 4 ? b & 0x0F : b >> 4;
}

struct Int4Matrix {
  int64_t rows = 0, cols = 0, group = 0;
  int64_t padded_cols = 0;        // cols rounded up to 64 (padding: code 0, d = m = 0)
  // Row layout (tiled false): [rows, padded_cols / 2]: per 64 columns, byte j holds column j
  // (low nibble) and j + 32 (high), so one 32-byte load yields two 32-column units in order.
  // Tiled layout (int4_tile): rows in tiles of 16 (the last padded with code 0, d = m = 0), per
  // tile and 8 columns c..c+7 64 bytes, byte 4i + b holding row i's column c + b (low nibble) and
  // c + 4 + b (high): one vpdpbusd against 4 broadcast activations sums 16 rows at once.
  HugeVector<uint8_t> packed;     // on 2 MB pages: decode streams it every token
  // Row layout: [rows, groups(), 2] F16 (d, m): w = q · d + m (m = -zero · d). Tiled: [tiles,
  // groups(), 2, 16]: the 16 rows' d, then their m (one vcvtph2ps each).
  HugeVector<uint16_t> dm;
  bool tiled = false;
  // Act-order (GPTQ desc_act): packed column j is input column perm[j], so each group's columns
  // are contiguous; empty when the order is the natural one.
  std::vector<int32_t> perm, inv_perm;

  int64_t groups() const { return padded_cols / group; }
  int64_t row_bytes() const { return padded_cols / 2; }
  int64_t tiles() const { return (rows + kInt4TileRows - 1) / kInt4TileRows; }
  int64_t tile_bytes() const { return kInt4TileRows * row_bytes(); }
  int64_t tile_halves() const { return 2 * kInt4TileRows * groups(); }  // of dm per tile
  int q(int64_t r, int64_t j) const;   // code of packed column j of row r
  float d(int64_t r, int64_t g) const;  // row r's group g scale and offset, either layout
  float m(int64_t r, int64_t g) const;
  float value(int64_t r, int64_t c) const;  // weight at (row r, input column c)
  size_t bytes() const { return packed.size() + dm.size() * 2; }
};

// Rows interleaved per tile in Int8Rows's tiled layout, as in Int4Matrix's.
constexpr int64_t kInt8TileRows = 16;
// Byte offset of row i's column c within one tile of Int8Rows's tiled layout: the one statement of
// that layout, shared by the loader (int8_from_q8_0), Int8Rows::code and the scalar reference.
constexpr int64_t int8_tile_at(int64_t i, int64_t c) { return (c / 4) * 64 + 4 * i + c % 4; }
// Index of row i's F16 scale of 32-column unit u within one tile's scales: a unit's 16 scales
// are contiguous, one vcvtph2ps in the kernels. Shared as int8_tile_at is.
constexpr int64_t int8_tile_scale_at(int64_t i, int64_t u) { return u * kInt8TileRows + i; }

// GGUF Q8_0 (int8 codes, one F16 scale per kQuantUnit values of each row), split at load into
// the layout a kernel streams (model/quant_bind.h's int8_from_q8_0). Both layouts hold exactly
// the file's codes and scales: w = q · d.
struct Int8Rows {
  int64_t rows = 0, cols = 0;  // cols a multiple of kQuantUnit
  bool tiled = false;
  // Row layout (tiled false; MLA's kv_b_proj, whose W_UK half linear_t reads transposed): codes
  // [rows, cols] int8 and scales [rows, cols / 32] widened to float32 (9 bits per weight), read
  // by the INT8 row kernels as a Weight of dtype I8 with block 32, block_rows 1.
  HugeVector<int8_t> codes;   // on 2 MB pages: decode streams it every token
  HugeVector<float> scales;
  // Tiled layout: rows in tiles of 16 (the last padded with w = 0, d = 0). Per tile and 4 columns
  // c..c+3 64 bytes, byte 4i + b holding row i's column c + b as the unsigned w + 128, so one
  // vpdpbusd against a broadcast dword of 4 activations adds 4 columns to all 16 rows' sums; per
  // tile and 32-column unit the 16 rows' F16 scales (one vcvtph2ps). 8.5 bits per weight, the
  // file's own bytes.
  HugeVector<uint8_t> packed;  // [tiles, cols / 4, 16, 4]
  HugeVector<uint16_t> d;      // [tiles, cols / 32, 16]
  // Block-scaled INT8 (blockwise_int8 checkpoints, int8_tiles_from_blocks) in the tiled layout:
  // block > 0, d empty, block_scales the checkpoint's own float32 scales [ceil(rows / block),
  // block_cols()], w = q · block_scales[r / block][c / block]. A tile's 16 rows lie in one block
  // row (block is a multiple of 32), so its rows share each unit's scale.
  int64_t block = 0;
  std::vector<float> block_scales;

  int64_t units() const { return cols / kQuantUnit; }
  int64_t block_cols() const { return (cols + block - 1) / block; }
  int64_t tiles() const { return (rows + kInt8TileRows - 1) / kInt8TileRows; }
  int64_t tile_bytes() const { return kInt8TileRows * cols; }
  int64_t tile_halves() const { return kInt8TileRows * units(); }
  int code(int64_t r, int64_t c) const;     // row r's int8 code of column c, either layout
  float scale(int64_t r, int64_t u) const;  // row r's scale of unit u
  float value(int64_t r, int64_t c) const { return float(code(r, c)) * scale(r, c / kQuantUnit); }
  size_t bytes() const {
    return codes.size() + scales.size() * 4 + packed.size() + d.size() * 2 + block_scales.size() * 4;
  }
};

// Whether the loaders store Q8_0 tensor `name` tiled: every matrix but MLA's kv_b_proj (as
// int4_tiles_pay: its W_UK half is read transposed, a row's columns in the lanes).
bool int8_tiles_pay(std::string_view name);

// The Weight the kernels read m through: dtype I8, block 32, block_rows 1; int8 set (and, in the
// row layout, data and scale_inv at the codes and scales). Block-scaled tiles: block and
// block_rows m.block, scale_inv at m.block_scales.
Weight int8_rows_weight(const Int8Rows& m);

// A blockwise_int8 matrix (codes [rows, cols] int8, scales [ceil(rows / block), ceil(cols /
// block)] float32, block a multiple of 32, cols a multiple of 32) in the tiled layout, exactly:
// what the loaders keep for every such matrix where int8_tiles_pay, so decode streams 16 rows
// at a time as for Q8_0 instead of one row per dot product.
Int8Rows int8_tiles_from_blocks(const int8_t* codes, const float* scales, int64_t rows, int64_t cols, int64_t block);

// Repacks a 4-bit GPTQ matrix (row layout); throws Error (naming `what`) when its group size is not a
// multiple of kQuantUnit or its act-order groups are not all group_size columns.
Int4Matrix int4_from_gptq(const GptqView& v, const char* what);
Int4Matrix int4_from_awq(const AwqView& v, const char* what);  // group size a multiple of 32

// Whether the loaders store m, the checkpoint's tensor `name`, tiled: every matrix in natural
// column order except MLA's kv_b_proj, whose W_UK half linear_t reads transposed (a tile puts
// 16 rows in the lanes, the transposed kernel wants a row's columns there; linear_t widens tiled
// rows a value at a time). Tiles measured faster at every shape (docs/quantization.md).
bool int4_tiles_pay(const Int4Matrix& m, std::string_view name);
// The same codes and (d, m) in the tiled layout (m in row layout, natural column order).
void int4_tile(Int4Matrix& m);
// What the loaders (model/quant_bind.h) call after the row layout: int4_tile where int4_tiles_pay.
void int4_choose_layout(Int4Matrix& m, std::string_view name);

}  // namespace dsv3
