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
// Equal ways to evaluate it sit side by side (tests/model/test_mla.cpp checks they agree):
//  - full sequences (mla_forward): expand k_C and v for every token. Training runs this form,
//    recording the activations its backward (train/mla_backward.h) needs, at its precision mode;
//  - through the latent cache (mla_forward_cached), per sequence whichever costs fewer
//    multiply-adds: absorbed (decode steps) folds W_UK into the query (q_C·W_UK·c_KV) and W_UV
//    after the weighted sum of latents, so attention runs directly over the cached latents;
//    decompressed (prompts) expands k_C and v from the cached latents, as the full form does.
// All share the projections, RoPE and the attention kernel (kernels/attention.h).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/precision.h"
#include "model/latent_cache.h"
#include "model/rope.h"
#include "model/weights.h"

namespace dsv3 {

// The head dimensions of a config, named as in the report.
struct MlaDims {
  int64_t H, dn, dr, dv, r, qk, kvh;  // heads; nope, rope, value dims; kv_lora_rank; dn+dr; dn+dv
  explicit MlaDims(const ModelConfig& c)
      : H(c.num_attention_heads), dn(c.qk_nope_head_dim), dr(c.qk_rope_head_dim), dv(c.v_head_dim),
        r(c.kv_lora_rank), qk(c.qk_nope_head_dim + c.qk_rope_head_dim), kvh(c.qk_nope_head_dim + c.v_head_dim) {}
};

struct MlaContext {
  const ModelConfig& cfg;
  const Rope& rope;
  float softmax_scale;
};

// Rows of a forward pass through the caches: row i is the token at position pos[i] of sequence
// seq[i]; it attends to that sequence's positions 0..pos[i] (causal).
struct RowPlacement {
  const int32_t* pos;
  const int32_t* seq;
  SequenceCache* const* caches;  // indexed by seq
  int64_t layer;                 // which of the cache's layers this block uses
};

// Rows of a forward pass over whole sequences: B sequences of T consecutive positions
// (0..T-1); row b·T + t is position t of sequence b.
struct Rows {
  int64_t B = 0, T = 0;
  int64_t n() const { return B * T; }
};

// What the backward of mla_forward needs (n = B·T rows).
struct MlaActs {
  std::vector<float> cq_raw;  // [n, q_lora_rank]  q_a_proj output (q LoRA only)
  std::vector<float> cq;      // [n, q_lora_rank]  after q_a_layernorm: q_b_proj's input
  std::vector<float> q;       // [n, H·(dn+dr)]    queries, RoPE part rotated
  std::vector<float> ckv;     // [n, r]            latent before kv_a_layernorm
  std::vector<float> latent;  // [n, r]            after kv_a_layernorm: kv_b_proj's input
  std::vector<float> k_r;     // [n, dr]           rotated shared RoPE key
  std::vector<float> kvb;     // [n, H·(dn+dv)]    per head: k_C then v
  std::vector<float> probs;   // [B, H, T, T]      attention weights (row t: columns 0..t)
  std::vector<float> attn;    // [n, H·dv]         o_proj's input
};

// q [n, H·(dn+dr)] from the normed input x [n, hidden] (RoPE not yet applied). cq_raw and cq
// (q LoRA only) receive q_a_proj's output and its normed form when not null.
void mla_queries(float* q, const float* x, int64_t n, const MlaWeights& w, const ModelConfig& cfg,
                 Precision p = Precision::kF32, std::vector<float>* cq_raw = nullptr,
                 std::vector<float>* cq = nullptr);

// Through the latent cache. x [n, hidden] (already input_layernorm-ed) -> out [n, hidden].
// Writes each row's c_KV and k_R into its sequence's cache before attending; each sequence's rows
// attend in the absorbed or the decompressed form, whichever costs fewer multiply-adds (a row's
// form depends only on its own sequence's rows in the batch).
void mla_forward_cached(float* out, const float* x, int64_t n, const MlaWeights& w, const MlaContext& ctx,
                        const RowPlacement& rows);

// Full-sequence form, no cache: x [n, hidden] -> out [n, hidden], n = rows.n(). a (optional)
// receives the activations; p is the products' precision (training's emulation; float32 else).
void mla_forward(float* out, const float* x, const Rows& rows, const MlaWeights& w, const MlaContext& ctx,
                 Precision p = Precision::kF32, MlaActs* a = nullptr);

}  // namespace dsv3
