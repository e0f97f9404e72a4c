// Integer dot-product kernels for llama.cpp K-quant rows read as their GGUF super-blocks
// (core/kquant_blocks.h), compiled once per instruction set from kquant_kernels.inc: AVX-512
// VNNI (vpdpbusd), AVX2 (vpmaddubsw + vpmaddwd), and the plain scalar reference.
//
// Activations come quantized per row in 32-column units (quant_linear.h's rounding):
// x̂[i] = q[i] · d[i / 32], with s[u] = d[u] · Σ_{i∈u} q[i], plus bias4[j] = -32 · Σ_{i=4j}^{4j+3} q[i], which folds Q6_K's offset
// of 32 into the accumulator a 4-byte dot starts from.
#pragma once
#include <cstdint>

namespace dsv3 {

struct KQuantRows {       // nt input rows
  const int8_t* q;        // row t at q + t · ldq
  const float* d;         // row t at d + t · ldd, one per 32 columns
  const float* s;         // likewise: d · Σ of the unit's codes (what Q4_K's minimum multiplies)
  const int32_t* bias4;   // row t at bias4 + t · ldb, one per 4 columns
  int64_t ldq, ldd, ldb;
};

struct KQuantKernels {
  const char* name;
  // y[t · ldy + r] = Σ_i x̂_t[i] · w_r[i] for t < nt, r < nr, i < k (a multiple of 256): Q6_K
  // rows w (ldw bytes apart), each unit an exact int32 Σ sc · x · (q - 32) times d · d_x.
  void (*gemv_q6_k)(float* y, int64_t ldy, const KQuantRows& x, int64_t nt, const uint8_t* w, int64_t ldw,
                    int64_t nr, int64_t k);
  // The same for Q4_K and Q5_K rows: per unit d · sc · d_x · (exact int32 Σ x · q) − dmin · m · s.
  void (*gemv_q4_k)(float* y, int64_t ldy, const KQuantRows& x, int64_t nt, const uint8_t* w, int64_t ldw,
                    int64_t nr, int64_t k);
  void (*gemv_q5_k)(float* y, int64_t ldy, const KQuantRows& x, int64_t nt, const uint8_t* w, int64_t ldw,
                    int64_t nr, int64_t k);
};

// Follows isa_kernels() (and so DSV3_ISA) as quant_kernels() does.
const KQuantKernels& kquant_kernels();
const KQuantKernels* kquant_kernels_by_name(const char* name);  // nullptr if not supported

const KQuantKernels* kquant_kernels_generic();
const KQuantKernels* kquant_kernels_avx2();
const KQuantKernels* kquant_kernels_avx512();

}  // namespace dsv3
