#define DSV3_ISA_NAME "avx2"
#define DSV3_ISA_FUNC isa_kernels_avx2
#include "kernels/isa_kernels.inc"
