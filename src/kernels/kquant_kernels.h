// Integer dot-product kernels for llama.cpp K-quant rows read as their GGUF super-blocks
// (core/kquant_blocks.h), compiled once per instruction set from kquant_kernels.inc: AVX-512
// (vpmaddubsw + VNNI vpdpwssd, 64 values per instruction), AVX2 (vpmaddubsw + vpmaddwd), and the
// plain scalar reference.
//
// Activations come quantized per row in 256-column units, one per super-block (as llama.cpp's
// Q8_K): x̂[i] = q[i] · d[i / 256] with |q| ≤ 127, plus bsum[j] = Σ_{i=16j}^{16j+15} q[i], which
// carries Q6_K's offset of 32 and Q4_K/Q5_K's minimums (Σ over a sub-block times its scale), so
// a super-block's whole dot product is exact int32 arithmetic finished by one float multiply.
#pragma once
#include <cstdint>

namespace dsv3 {

struct KQuantRows {       // nt input rows
  const int8_t* q;        // row t at q + t · ldq
  const float* d;         // row t at d + t · ldd, one per 256 columns
  const int16_t* bsum;    // row t at bsum + t · ldb, one per 16 columns
  int64_t ldq, ldd, ldb;
};

struct KQuantKernels {
  const char* name;
  // The activations of `units` 256-column units x (rows are whole units, so one call covers many
  // rows): d[u] = max|x| / 127 of unit u, q = round-half-even(x · 127 / max|x|) (0 where the
  // unit is all zero), bsum[j] = Σ of codes 16j..16j+15. Every version gives the same bytes.
  void (*quantize)(int8_t* q, float* d, int16_t* bsum, const float* x, int64_t units);
  // y[t · ldy + r] = Σ_i x̂_t[i] · w_r[i] for t < nt ≤ 8, r < nr, i < k (a multiple of 256):
  // Q6_K rows w (ldw bytes apart), per super-block d · d_x · (exact int32 Σ sc · q_x · (q - 32)).
  void (*gemv_q6_k)(float* y, int64_t ldy, const KQuantRows& x, int64_t nt, const uint8_t* w, int64_t ldw,
                    int64_t nr, int64_t k);
  // The same for Q4_K and Q5_K rows: per super-block d · d_x · (int32 Σ_p sc_p Σ q_x · q)
  // − dmin · d_x · (int32 Σ_p m_p Σ q_x).
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
