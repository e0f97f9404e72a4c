#define DSV3_QUANT_NAME "avx2"
#define DSV3_QUANT_FUNC quant_kernels_avx2
#include "kernels/quant_kernels.inc"
