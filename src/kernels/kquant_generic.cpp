#define DSV3_KQUANT_NAME "generic"
#define DSV3_KQUANT_FUNC kquant_kernels_generic
#include "kernels/kquant_kernels.inc"
