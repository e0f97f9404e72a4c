// The model's parameters as views: into the memory-mapped checkpoint for inference, or into
// the trainer's float32 buffers for training. Field names are the Hugging Face tensor names.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "kernels/quant_weight.h"
#include "kernels/weight.h"
#include "model/config.h"

namespace dsv3 {

class Checkpoint;

struct Vec {  // a float32 vector (norm weights, router bias)
  const float* data = nullptr;
  int64_t size = 0;
  bool empty() const { return data == nullptr; }
};

struct MlaWeights {
  Weight q_proj;               // [H·(dn+dr), hidden]        when q_lora_rank == 0
  Weight q_a_proj;             // [q_lora_rank, hidden]       otherwise
  Vec q_a_layernorm;           // [q_lora_rank]
  Weight q_b_proj;             // [H·(dn+dr), q_lora_rank]
  Weight kv_a_proj_with_mqa;   // [kv_lora_rank + dr, hidden]: latent c_kv, then the shared RoPE key
  Vec kv_a_layernorm;          // [kv_lora_rank]
  Weight kv_b_proj;            // [H·(dn+dv), kv_lora_rank]: per head, dn key rows then dv value rows
  Weight o_proj;               // [hidden, H·dv]
  // Optional (GGUF files with quantized attn_k_b / attn_v_b): kv_b_proj's halves in the file's
  // own layout and blocks, read by the absorbed (decode) attention instead of kv_b_proj.
  Weight w_uk;                 // [H·kv_lora_rank, dn]: per head W_UKᵀ, so q_lat = w_uk · q_C
  Weight w_uv;                 // [H·dv, kv_lora_rank]: per head W_UV
};

struct MlpWeights {            // SwiGLU: down(silu(gate(x)) * up(x))
  Weight gate_proj, up_proj, down_proj;
  bool empty() const { return gate_proj.empty(); }
};

struct MoeWeights {
  Weight gate;                 // [n_routed_experts, hidden] router
  Vec e_score_correction_bias; // [n_routed_experts], only for choosing experts; may be empty
  std::vector<MlpWeights> experts;
  MlpWeights shared_experts;   // intermediate n_shared_experts · moe_intermediate_size; may be empty
};

struct LayerWeights {
  Vec input_layernorm, post_attention_layernorm;
  MlaWeights self_attn;
  bool is_moe = false;
  MlpWeights mlp;              // dense layers
  MoeWeights moe;              // MoE layers
};

struct MtpWeights {            // layer num_hidden_layers + k of the released checkpoints
  Vec enorm, hnorm;
  Weight eh_proj;              // [hidden, 2·hidden] over concat(enorm(emb), hnorm(h))
  LayerWeights block;
  Vec shared_head_norm;
};

struct ModelWeights {
  Weight embed_tokens;         // [vocab, hidden]
  std::vector<LayerWeights> layers;
  Vec norm;
  Weight lm_head;              // [vocab, hidden] (embed_tokens when tied)
  std::vector<MtpWeights> mtp;
};

struct BoundWeights {
  ModelWeights weights;
  std::deque<std::vector<float>> storage;  // widened norm vectors and scales
  std::deque<Int4Matrix> int4;             // GPTQ matrices repacked for the kernels
  std::deque<Int8Rows> int8;               // GGUF Q8_0 and blockwise INT8 matrices in the kernels' layouts
  std::vector<std::string> unused;         // checkpoint tensors the config does not use
};

// Binds every tensor the config implies, checking presence, shape and dtype; throws Error
// naming the file and tensor at fault. Unknown extra tensors are listed in `unused`.
BoundWeights bind_weights(const Checkpoint& ckpt, const ModelConfig& cfg);

// Hugging Face name prefix of layer i ("model.layers.<i>.").
std::string layer_prefix(int64_t i);

}  // namespace dsv3
