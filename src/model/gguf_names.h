// llama.cpp's names for the tensors of a `deepseek2` GGUF file, derived from the Hugging Face
// names of tensor_table.h (the one list of a config's tensors), so reading and writing GGUF
// share one mapping:
//   model.embed_tokens / model.norm / lm_head       token_embd / output_norm / output
//   layers.i.input_layernorm, post_attention_layernorm   blk.i.attn_norm, blk.i.ffn_norm
//   self_attn.q_proj | q_a_proj, q_a_layernorm, q_b_proj  attn_q | attn_q_a, attn_q_a_norm, attn_q_b
//   self_attn.kv_a_proj_with_mqa, kv_a_layernorm     attn_kv_a_mqa, attn_kv_a_norm
//   self_attn.kv_b_proj                              attn_kv_b (older files), or split into
//                                                    attn_k_b [H, r, dn] and attn_v_b [H, dv, r]
//   self_attn.o_proj                                 attn_output
//   mlp.{gate,up,down}_proj                          ffn_{gate,up,down}
//   mlp.gate.weight, mlp.gate.e_score_correction_bias    ffn_gate_inp.weight, exp_probs_b.bias
//   mlp.experts.E.{gate,up,down}_proj                ffn_{gate,up,down}_exps: all experts stacked
//                                                    in one 3-D tensor, expert E the E-th slab
//   mlp.shared_experts.{gate,up,down}_proj           ffn_{gate,up,down}_shexp
//   MTP layer i: enorm, hnorm, eh_proj, shared_head.norm, embed_tokens, shared_head.head
//                                                    blk.i.nextn.{enorm, hnorm, eh_proj,
//                                                    shared_head_norm, embed_tokens, shared_head_head}
// Every suffix keeps ".weight" (".bias" for exp_probs_b). No rows are permuted: llama.cpp's
// converter stores DeepSeek's matrices as they are (its RoPE mode for deepseek2 matches the
// checkpoint's interleaved layout).
#pragma once
#include <cstdint>
#include <string>

namespace dsv3 {

struct GgufName {
  std::string name;     // "blk.3.ffn_up_exps.weight"; empty when llama.cpp has no such tensor
  int64_t expert = -1;  // >= 0: slab `expert` of the merged *_exps tensor `name`
};

// The GGUF name of Hugging Face tensor `hf`; num_hidden_layers tells MTP layers apart.
GgufName gguf_name(const std::string& hf, int64_t num_hidden_layers);

// "blk.<i>.attn_k_b.weight" / "blk.<i>.attn_v_b.weight": the split form of layer i's kv_b_proj.
std::string gguf_k_b_name(int64_t layer);
std::string gguf_v_b_name(int64_t layer);

}  // namespace dsv3
