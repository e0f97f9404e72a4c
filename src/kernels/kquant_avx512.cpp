#define DSV3_KQUANT_NAME "avx512"
#define DSV3_KQUANT_FUNC kquant_kernels_avx512
#include "kernels/kquant_kernels.inc"
