// The innermost loops, compiled once per instruction set (generic, AVX2, AVX-512) from one
// source (isa_kernels.inc) and picked at run time by the CPU's features. Everything above this
// table (linear.cpp, the model) is ISA-independent.
#pragma once
#include <cstdint>

namespace dsv3 {

struct IsaKernels {
  const char* name;
  // out[i] = widen(in[i]) (* scale for FP8)
  void (*widen_bf16)(float* out, const uint16_t* in, int64_t n);
  void (*widen_f16)(float* out, const uint16_t* in, int64_t n);
  void (*widen_fp8)(float* out, const uint8_t* in, int64_t n, float scale);
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float* y, float a, const float* x, int64_t n);  // y += a * x
  // y[t * ldy + r] = dot(x[t * ldx ..], w[r * ldw ..], k) for t < nt, r < nr
  void (*dot_tile)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const float* w,
                   int64_t ldw, int64_t nr, int64_t k);
};

const IsaKernels& isa_kernels();           // the best the CPU supports (or DSV3_ISA=generic|avx2|avx512)
const IsaKernels* isa_kernels_by_name(const char* name);  // nullptr if not built or not supported

const IsaKernels* isa_kernels_generic();
const IsaKernels* isa_kernels_avx2();
const IsaKernels* isa_kernels_avx512();

}  // namespace dsv3
