#include "core/fp8_blocks.h"

#include "core/block_scale.h"
#include "core/dtype.h"

namespace dsv3 {

Fp8Blocks fp8_encode_blocks(const float* w, int64_t rows, int64_t cols, int64_t block) {
  Fp8Blocks q;
  encode_blocks(w, rows, cols, block, kFp8E4M3Max, f32_to_fp8_e4m3, q.codes, q.scale_inv);
  return q;
}

void fp8_decode_blocks(const Fp8Blocks& q, int64_t rows, int64_t cols, int64_t block, float* w) {
  decode_blocks(q.codes, q.scale_inv, rows, cols, block, fp8_e4m3_to_f32, w);
}

}  // namespace dsv3
