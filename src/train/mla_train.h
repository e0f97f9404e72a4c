// Multi-head Latent Attention in training: the naive form of model/mla.h over whole sequences,
// keeping what the backward needs, and its backward (the llm.c pair).
//
//   c_Q = RMSNorm(W_DQ x)        q = W_UQ c_Q           (or q = W_Q x without q LoRA)
//   [c_KV ; k_R] = W_DKV x       c = RMSNorm(c_KV)      k_R = RoPE(k_R)   q_R = RoPE(q_R)
//   [k_C ; v] = W_UKV c          o = softmax((q_C·k_C + q_R·k_R)·scale, causal) v
//   out = W_O o
#pragma once
#include <cstdint>
#include <vector>

#include "model/weights.h"
#include "train/train_context.h"

namespace dsv3 {

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

// out [n, hidden] from x [n, hidden] (already input_layernorm-ed).
void mla_train_forward(float* out, const float* x, const Rows& rows, const MlaWeights& w, const TrainContext& ctx,
                       MlaActs& a);

// dx [n, hidden] (overwritten) from dout [n, hidden]; weight gradients added through g.
void mla_train_backward(float* dx, const float* dout, const float* x, const Rows& rows, const MlaWeights& w,
                        const TrainContext& ctx, const MlaActs& a, const GradSink& g);

}  // namespace dsv3
