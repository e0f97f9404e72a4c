// Prefill (many input rows) on INT8 block-scaled weights with the int8 dot-product instruction
// (AVX-512 VNNI vpdpbusd): the weight is packed per call into 32-row panels of byte quads, each
// panel reused for every input row, and a register-tiled microkernel multiplies 6 input rows by
// 32 weight rows per step. Activations are the int8 rounding quant_linear uses for decode
// (quantize_activations: 32-column units, one scale each), so prefill and decode agree to float
// rounding and share one accuracy budget (docs/quantization.md).
#pragma once
#include <cstdint>

#include "kernels/weight.h"

namespace dsv3 {

// Whether the selected instruction set (DSV3_ISA) has vpdpbusd: the avx512 kernels with VNNI.
bool int8_dot_available();

// Whether int8_gemm can run w on this CPU under the selected instruction set (DSV3_ISA): an I8
// weight whose 32-row panels never straddle a scale block (block and row0 multiples of 32), and
// the avx512 kernels with VNNI.
bool int8_gemm_fits(const Weight& w);

// y[n, w.rows] = x̂[n, w.cols] · Wᵀ, x̂ = x with each 32-column unit rounded to int8 (as
// quant_linear). Requires int8_gemm_fits(w).
void int8_gemm(float* y, const float* x, int64_t n, const Weight& w);

// vpdpbusd issued back to back on one thread: the int8 dot-product ceiling (2 ops = one
// multiply-add per byte pair), like IsaKernels::fma_burn. Requires int8_dot_available().
double int8_burn_ops(int64_t iters);
int64_t int8_burn_ops_per_iter();

}  // namespace dsv3
