#define DSV3_ISA_NAME "avx512bf16"
#define DSV3_ISA_FUNC isa_kernels_avx512bf16
#define DSV3_GEMM_MR 8
#define DSV3_GEMM_NR 32
#define DSV3_LANES 16
#include "kernels/isa_kernels.inc"
