#define DSV3_QUANT_NAME "avx512"
#define DSV3_QUANT_FUNC quant_kernels_avx512
#include "kernels/quant_kernels.inc"
