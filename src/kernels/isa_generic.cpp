#define DSV3_ISA_NAME "generic"
#define DSV3_ISA_FUNC isa_kernels_generic
#include "kernels/isa_kernels.inc"
