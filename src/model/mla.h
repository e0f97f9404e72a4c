// Multi-head Latent Attention (DeepSeek-V2/V3 report, eqs. 1-11).
//
//   c_Q = RMSNorm(W_DQ h)                   q_a_proj, q_a_layernorm   (or plain q_proj)
//   [q_C ; q_R] = W_UQ c_Q                   q_b_proj, per head: dn "nope" + dr RoPE dims
//   [c_KV ; k_R] = W_DKV h                   kv_a_proj_with_mqa
//   c_KV = RMSNorm(c_KV)                     kv_a_layernorm  — this is what the cache keeps
//   k_R  = RoPE(k_R)                         one key shared by all heads
//   [k_C ; v] = W_UKV c_KV                   kv_b_proj, per head: dn key rows, dv value rows
//   o_h = softmax((q_C·k_C + q_R·k_R) · scale) · v ;  out = W_O [o_1 ... o_H]     o_proj
//
// Two equal ways to evaluate it sit side by side:
//  - naive: expand k_C and v for every cached token (what training differentiates);
//  - absorbed: fold W_UK into the query (q_C·W_UK·c_KV) and W_UV after the weighted sum of
//    latents, so attention runs directly over the cached latents (what decoding uses).
#pragma once
#include <cstdint>

#include "model/latent_cache.h"
#include "model/rope.h"
#include "model/weights.h"

namespace dsv3 {

struct MlaContext {
  const ModelConfig& cfg;
  const Rope& rope;
  float softmax_scale;
};

// Rows of a forward pass: row i is the token at position pos[i] of sequence seq[i]; it attends
// to that sequence's positions 0..pos[i] (causal).
struct RowPlacement {
  const int32_t* pos;
  const int32_t* seq;
  SequenceCache* const* caches;  // indexed by seq
  int64_t layer;                 // which of the cache's layers this block uses
};

// q [n, H·(dn+dr)] from the normed input x [n, hidden] (RoPE not yet applied).
void mla_queries(float* q, const float* x, int64_t n, const MlaWeights& w, const ModelConfig& cfg);

// Absorbed form through the latent cache. x [n, hidden] (already input_layernorm-ed) -> out [n, hidden].
// Writes each row's c_KV and k_R into its sequence's cache before attending.
void mla_forward_cached(float* out, const float* x, int64_t n, const MlaWeights& w, const MlaContext& ctx,
                        const RowPlacement& rows);

// Naive form over one whole sequence at positions 0..T-1, no cache: the reference the absorbed
// form is tested against, and the form training differentiates.
void mla_forward_naive(float* out, const float* x, int64_t T, const MlaWeights& w, const MlaContext& ctx);

}  // namespace dsv3
