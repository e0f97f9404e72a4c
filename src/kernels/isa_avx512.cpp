#define DSV3_ISA_NAME "avx512"
#define DSV3_ISA_FUNC isa_kernels_avx512
#include "kernels/isa_kernels.inc"
