#define DSV3_KQUANT_NAME "avx2"
#define DSV3_KQUANT_FUNC kquant_kernels_avx2
#include "kernels/kquant_kernels.inc"
