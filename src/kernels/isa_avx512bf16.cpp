// GCC 12's AVX-512 intrinsics start some results from a self-initialized "undefined"
// variable (_mm512_undefined_*), which -Wmaybe-uninitialized reports at every use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define DSV3_ISA_NAME "avx512bf16"
#define DSV3_ISA_FUNC isa_kernels_avx512bf16
#define DSV3_GEMM_MR 8
#define DSV3_GEMM_NR 32
#define DSV3_LANES 16
#include "kernels/isa_kernels.inc"
