// INT4 weights in the layout the decode kernels stream, repacked once at load from a
// checkpoint's GPTQ tensors (whose [in, out] packing suits GPUs, not a row-at-a-time CPU dot).
//
// Memory: 0.5 byte per weight plus 4 bytes per group (F16 d and m), e.g. 4.25 bits per weight
// at group 128 and 5 at group 32, owned by the loaded model; the checkpoint's own INT4 pages
// are read once and stay only as reclaimable page cache. INT8 block weights need no repacking:
// the kernels read the checkpoint's int8 rows in place (Weight with dtype I8, like FP8).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/huge_pages.h"
#include "core/int_quant.h"

namespace dsv3 {

// Activations are quantized to int8 in units of this many columns (one scale each); every
// weight group and block is a whole number of units.
constexpr int64_t kQuantUnit = 32;

// w = q · d + m, the one formula every reader of an Int4Matrix uses (so all agree bit for bit).
inline float int4_dequant(int q, float d, float m) { return float(q) * d + m; }

struct Int4Matrix {
  int64_t rows = 0, cols = 0, group = 0;
  int64_t padded_cols = 0;        // cols rounded up to 64 (padding: code 0, d = m = 0)
  // [rows, padded_cols / 2]: per 64 columns, byte j holds column j (low nibble) and j + 32 (high),
  // so one 32-byte load yields two 32-column units in order.
  HugeVector<uint8_t> packed;     // on 2 MB pages: decode streams it every token
  HugeVector<uint16_t> dm;       // [rows, groups(), 2] F16 (d, m): w = q · d + m (m = -zero · d)
  // Act-order (GPTQ desc_act): packed column j is input column perm[j], so each group's columns
  // are contiguous; empty when the order is the natural one.
  std::vector<int32_t> perm, inv_perm;

  int64_t groups() const { return padded_cols / group; }
  int64_t row_bytes() const { return padded_cols / 2; }
  int q(int64_t r, int64_t j) const;   // code of packed column j of row r
  float value(int64_t r, int64_t c) const;  // weight at (row r, input column c)
  size_t bytes() const { return packed.size() + dm.size() * 2; }
};

// INT8 rows with one float32 scale per kQuantUnit values of each row (GGUF Q8_0 split into its
// codes and scales): the INT8 kernels read it as a Weight of dtype I8 with block = 32 and
// block_rows = 1. 9 bits per weight (Q8_0's F16 scale widened, so the kernels share one path).
struct Int8Rows {
  int64_t rows = 0, cols = 0;
  HugeVector<int8_t> codes;   // [rows, cols], on 2 MB pages as Int4Matrix
  HugeVector<float> scales;   // [rows, cols / kQuantUnit]
};

// Repacks a 4-bit GPTQ matrix; throws Error (naming `what`) when its group size is not a
// multiple of kQuantUnit or its act-order groups are not all group_size columns.
Int4Matrix int4_from_gptq(const GptqView& v, const char* what);
Int4Matrix int4_from_awq(const AwqView& v, const char* what);  // group size a multiple of 32

}  // namespace dsv3
