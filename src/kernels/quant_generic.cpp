#define DSV3_QUANT_NAME "generic"
#define DSV3_QUANT_FUNC quant_kernels_generic
#include "kernels/quant_kernels.inc"
