#define DSV3_ISA_NAME "generic"
#define DSV3_ISA_FUNC isa_kernels_generic
#define DSV3_GEMM_MR 4
#define DSV3_GEMM_NR 8
#define DSV3_LANES 4
#include "kernels/isa_kernels.inc"
