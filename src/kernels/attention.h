// The inner loops of Multi-head Latent Attention in its absorbed (decode) form: attention of
// query rows directly over the latent cache, never expanding keys or values per head.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace dsv3 {

// One sequence's cached rows for one layer, stored as dtype (F32 or BF16): position s has the
// latent c_KV at element s·kv_stride of kv (kv_lora_rank values) and the rotated shared key k_R
// at element s·pe_stride of pe (qk_rope_head_dim values).
struct LatentRows {
  DType dtype;
  const void* kv;
  int64_t kv_stride;
  const void* pe;
  int64_t pe_stride;
  int64_t len;  // positions 0..len-1 are attended to
};

// For heads h < nh of one query row:
//   o[h] = Σ_s softmax_s(scale · (q_lat[h] · c_KV[s] + q_pe[h] · k_R[s])) · c_KV[s]
// q_lat [nh, r] (row stride ldq), q_pe [nh, dr] (row stride ldp), o [nh, r] (row stride ldo).
// Flash-style: positions in tiles with a running max and sum per head (one pass over the cache);
// a tile's rows are read from memory once for all nh heads (the ISA's GEMV kernels, reading the
// stored dtype in place). A head's result does not depend on nh.
void latent_attention(float* o, int64_t ldo, const float* q_lat, int64_t ldq, const float* q_pe, int64_t ldp,
                      int64_t nh, int64_t r, int64_t dr, const LatentRows& cache, float scale);

// Heads per latent_attention call that callers use to split the work over threads.
constexpr int64_t kLatentHeadGroup = 8;

}  // namespace dsv3
