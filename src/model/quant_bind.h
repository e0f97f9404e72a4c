// Binding a checkpoint's GPTQ tensors to an INT4 weight the kernels stream (repacked once).
#pragma once
#include <cstdint>

#include "io/safetensors.h"
#include "kernels/quant_weight.h"
#include "model/quant_config.h"

namespace dsv3 {

// <stem>.qweight [in/8, out] I32, .qzeros [groups, ⌈out/8⌉] I32, .scales [groups, out] F16 and
// optional .g_idx [in] I32 of W [rows = out, cols = in]; throws Error naming the file and tensor.
Int4Matrix bind_gptq(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales,
                     const TensorInfo* g_idx, int64_t rows, int64_t cols, const QuantConfig& q);

// <stem>.qweight [in, out/8] I32, .qzeros [groups, out/8] I32, .scales [groups, out] F16 (AWQ GEMM).
Int4Matrix bind_awq(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales, int64_t rows,
                    int64_t cols, const QuantConfig& q);

}  // namespace dsv3
