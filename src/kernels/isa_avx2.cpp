#define DSV3_ISA_NAME "avx2"
#define DSV3_ISA_FUNC isa_kernels_avx2
#define DSV3_GEMM_MR 6
#define DSV3_GEMM_NR 16
#define DSV3_LANES 8
#include "kernels/isa_kernels.inc"
