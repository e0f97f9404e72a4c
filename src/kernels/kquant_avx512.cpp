// GCC 12's AVX-512 intrinsics start some results from a self-initialized "undefined"
// variable (_mm512_undefined_*), which -Wmaybe-uninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define DSV3_KQUANT_NAME "avx512"
#define DSV3_KQUANT_FUNC kquant_kernels_avx512
#include "kernels/kquant_kernels.inc"
