// llama.cpp's tensor element types (ggml_type) that dsv3 reads from GGUF files, and their
// dequantization to float32, written from the published block layouts (ggml-common.h):
//   F32, F16, BF16                plain elements
//   Q8_0  32 values:  f16 d, int8 q[32]                          x = d · q
//   Q4_0  32 values:  f16 d, u8 q[16] (value j low nibble of     x = d · (q - 8)
//                     byte j, value j+16 high nibble)
//   Q5_0  32 values:  f16 d, u8 qh[4], u8 q[16] as Q4_0; bit l   x = d · (q - 16), q 5 bits
//                     of qh (little-endian) is value l's fifth bit  (llama.cpp's Q4_K_M fallback
//                     for rows not a multiple of 256)
//   Q4_K, Q5_K, Q6_K  256-value super-blocks: core/kquant_blocks.h
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace dsv3 {

enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q5_0 = 6, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14, BF16 = 30 };

struct GgmlTypeInfo {
  const char* name;
  int64_t block;       // values per block
  size_t block_bytes;  // bytes per block
};

// The type's block layout, or nullptr when dsv3 does not read it.
const GgmlTypeInfo* ggml_type_info(uint32_t type);
std::string ggml_type_name(uint32_t type);  // "Q4_K", or the number ("23") for types dsv3 does not read

// out[0..n) from n values of `type` at `in` (n a multiple of the block).
void ggml_dequantize(GgmlType type, const uint8_t* in, float* out, int64_t n);

// n values of Q5_0 blocks (22 bytes per 32) as Q8_0 blocks (34 bytes): the same d and the codes
// q - 16, so exactly the same values, for the INT8 kernels.
void ggml_q5_0_to_q8_0(const uint8_t* in, uint8_t* out, int64_t n);

}  // namespace dsv3
