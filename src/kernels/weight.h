// A matrix as stored in the checkpoint: [rows, cols] = [out_features, in_features], row-major,
// in its own dtype (F32, BF16, F16, or F8_E4M3 with 128x128 block scales). Kernels widen it to
// float32 on the fly, so a weight is read from the memory map in place and never copied.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/kquant_blocks.h"

namespace dsv3 {

struct Int4Matrix;  // kernels/quant_weight.h
struct Int8Rows;

// llama.cpp K-quant super-blocks kept as stored (core/kquant_blocks.h, kernels/kquant.h).
enum class KQuant : uint8_t { None, Q4_K, Q5_K, Q6_K };

struct Weight {
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;       // logical shape of this view
  const void* data = nullptr;       // element (r, c) lives at row (row0 + r) of the full matrix
  int64_t row0 = 0;                 // first row of this view within the full matrix
  // FP8 only: weight_scale_inv [ceil(full_rows / block), ceil(cols / block)], float32.
  // The real weight is code_value(r, c) * scale_inv[r / block][c / block] (DeepSeek's naming:
  // "scale_inv" is the factor that undoes the quantization scale).
  const float* scale_inv = nullptr;
  int64_t scale_cols = 0;
  int block = int(kFp8BlockSize);
  // Rows per row of scales: block, or 1 for INT8 rows with one scale per `block` values of each
  // row (GGUF Q8_0: block 32).
  int block_rows = int(kFp8BlockSize);
  // INT4 groups (repacked at load, kernels/quant_weight.h); rows index it from row0 as well.
  // INT8 block weights are dtype I8 with scale_inv and block as for FP8.
  const Int4Matrix* int4 = nullptr;
  // GGUF Q8_0 (dtype I8, block 32, block_rows 1; kernels/quant_weight.h). In its tiled layout
  // data points at the tiles and scale_inv is null: only quant_linear reads it.
  const Int8Rows* int8 = nullptr;
  // K-quant: `data` is the GGUF tensor's blocks in place (rows of cols / 256 super-blocks of
  // kquant_block_bytes() each, dtype U8); the scales live inside the blocks.
  KQuant kquant = KQuant::None;

  bool empty() const { return data == nullptr; }
  // Rows [r0, r0 + n) of this view, e.g. one head's key or value part of kv_b_proj.
  Weight rows_slice(int64_t r0, int64_t n) const {
    Weight w = *this;
    w.row0 = row0 + r0;
    w.rows = n;
    return w;
  }
  const uint8_t* row_ptr(int64_t r) const {
    if (kquant != KQuant::None) return static_cast<const uint8_t*>(data) + size_t(row0 + r) * kquant_row_bytes();
    return static_cast<const uint8_t*>(data) + size_t(row0 + r) * size_t(cols) * dtype_size(dtype);
  }
  size_t bytes() const;  // of the codes (INT4: half a byte each), without scales (K-quants: with them)
  size_t kquant_block_bytes() const {
    return size_t(kquant == KQuant::Q4_K ? kQ4KBytes : kquant == KQuant::Q5_K ? kQ5KBytes : kquant == KQuant::Q6_K ? kQ6KBytes : 0);
  }
  size_t kquant_row_bytes() const { return size_t(cols / kSuperBlock) * kquant_block_bytes(); }
};

inline size_t Weight::bytes() const {
  if (kquant != KQuant::None) return size_t(rows) * kquant_row_bytes();
  return int4 ? size_t(rows) * size_t(cols) / 2 : size_t(rows) * size_t(cols) * dtype_size(dtype);
}

// A float32 matrix owned elsewhere (training parameters, tests).
inline Weight f32_weight(const float* data, int64_t rows, int64_t cols) {
  Weight w;
  w.dtype = DType::F32;
  w.rows = rows;
  w.cols = cols;
  w.data = data;
  return w;
}

}  // namespace dsv3
