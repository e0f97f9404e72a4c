// GCC 12's AVX-512 intrinsics give their unused pass-through operand as an uninitialized
// variable (_mm512_undefined_*), which -Wmaybe-uninitialized reports at every use.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define DSV3_QUANT_NAME "avx512"
#define DSV3_QUANT_FUNC quant_kernels_avx512
#include "kernels/quant_kernels.inc"
