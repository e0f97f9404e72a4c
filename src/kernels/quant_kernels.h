// Integer dot-product kernels for INT8 (block-scaled) and INT4 (grouped) weights, compiled
// once per instruction set from quant_kernels.inc: AVX-512 VNNI (vpdpbusd), AVX2 (vpmaddubsw +
// vpmaddwd), and the plain scalar reference the tests compare them with.
//
// Activations come quantized per row in units of kQuantUnit (32) columns: x̂[i] = q[i] · d[u],
// with s[u] = d[u] · Σ_{i∈u} q[i] (what a constant per-group weight offset multiplies).
#pragma once
#include <cstdint>

namespace dsv3 {

struct QuantRows {         // nt input rows
  const int8_t* q;         // row t at q + t · ldq
  const float* d;          // row t at d + t · ldd, one per unit
  const float* s;          // likewise
  int64_t ldq, ldd;
};

struct QuantKernels {
  const char* name;
  // y[t · ldy + r] = Σ_i x̂_t[i] · w_r[i] · scales[i / block], for t < nt, r < nr, i < k:
  // int8 rows w (ldw bytes apart) sharing one row of block scales (block a multiple of 32).
  void (*gemv_i8)(float* y, int64_t ldy, const QuantRows& x, int64_t nt, const int8_t* w, int64_t ldw, int64_t nr,
                  int64_t k, const float* scales, int64_t block);
  // The same for Int4Matrix rows: w (ldw bytes apart) packed per 64 columns (quant_weight.h),
  // dm (ld_dm halves apart) the F16 (d, m) of each group; k = the padded column count.
  void (*gemv_i4)(float* y, int64_t ldy, const QuantRows& x, int64_t nt, const uint8_t* w, int64_t ldw,
                  const uint16_t* dm, int64_t ld_dm, int64_t nr, int64_t k, int64_t group);
  // The transposed product (MLA's W_UK absorption) on the same rows, columns [c0, c0 + nc), c0 a
  // multiple of 64, x float: y[t · ldy + c - c0] += Σ_{r<nr} x[t · ldx + r] · w_r[c], w and dm
  // (or scales) at the slice's row 0 (quant_kernels_t.inc).
  void (*gemv_t_i4)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const uint8_t* w, int64_t ldw,
                    const uint16_t* dm, int64_t ld_dm, int64_t nr, int64_t c0, int64_t nc, int64_t group);
  // INT8: row r's block scales at scales + ((row0 + r) / block_rows) · ld_scales (a whole matrix's table).
  void (*gemv_t_i8)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const int8_t* w, int64_t ldw,
                    const float* scales, int64_t ld_scales, int64_t row0, int64_t block_rows, int64_t nr, int64_t c0,
                    int64_t nc, int64_t block);
  // gemv_i4 on Int4Matrix's tiled layout: y[t · ldy + i] for the 16 · ntiles rows of ntiles
  // consecutive tiles, w and dm at the first tile's bytes and halves (quant_kernels_tiles.inc).
  void (*gemv_i4_tiles)(float* y, int64_t ldy, const QuantRows& x, int64_t nt, const uint8_t* w, const uint16_t* dm,
                        int64_t ntiles, int64_t k, int64_t group);
  // INT8 rows with their own scales per 32 values (GGUF Q8_0 in Int8Rows's row layout): row r's
  // codes at w + r · ldw, its scales at scales + r · ld_scales; otherwise as gemv_i8 with block 32.
  // One call covers many rows, so what the rows share is prepared once.
  void (*gemv_i8_rows)(float* y, int64_t ldy, const QuantRows& x, int64_t nt, const int8_t* w, int64_t ldw,
                       int64_t nr, int64_t k, const float* scales, int64_t ld_scales);
  // The same product on Int8Rows's tiled layout: y[t · ldy + i] for the 16 · ntiles rows of ntiles
  // consecutive tiles, w and d (the F16 scales) at the first tile's bytes and halves, k = cols
  // (quant_kernels_tiles.inc).
  void (*gemv_i8_tiles)(float* y, int64_t ldy, const QuantRows& x, int64_t nt, const uint8_t* w, const uint16_t* d,
                        int64_t ntiles, int64_t k);
  // The same on block-scaled tiles (Int8Rows::block): w at tile `first`'s bytes (first counted
  // from the matrix's row 0), the scales the whole matrix's [ceil(rows / block), ld_scales] table.
  void (*gemv_i8_block_tiles)(float* y, int64_t ldy, const QuantRows& x, int64_t nt, const uint8_t* w, int64_t first,
                              int64_t ntiles, int64_t k, const float* scales, int64_t ld_scales, int64_t block);
};

// Follows isa_kernels() (and so DSV3_ISA): avx512 needs VNNI as well, else avx2 is used.
const QuantKernels& quant_kernels();
const QuantKernels* quant_kernels_by_name(const char* name);  // nullptr if not supported

const QuantKernels* quant_kernels_generic();
const QuantKernels* quant_kernels_avx2();
const QuantKernels* quant_kernels_avx512();

}  // namespace dsv3
