// The hyper-parameters of a llama.cpp `deepseek2` GGUF file (its deepseek2.* metadata) as a
// ModelConfig, and back. llama.cpp's keys and their Hugging Face config.json counterparts:
//   block_count (= layers + nextn_predict_layers)   num_hidden_layers + num_nextn_predict_layers
//   embedding_length, feed_forward_length, context_length, vocab_size (or the token count)
//   attention.head_count, attention.q_lora_rank (absent: plain q_proj), attention.kv_lora_rank
//   attention.key_length_mla / value_length_mla     qk_nope + qk_rope head dims / v_head_dim; older
//                                                   files (combined attn_kv_b) give them as
//                                                   key_length / value_length instead
//   rope.dimension_count, rope.freq_base            qk_rope_head_dim, rope_theta
//   rope.scaling.{type=yarn, factor, original_context_length, yarn_beta_fast, yarn_beta_slow}
//   rope.scaling.yarn_log_multiplier                0.1 · mscale_all_dim (llama.cpp assumes
//                                                   mscale == mscale_all_dim, as DeepSeek's configs have)
//   expert_count, expert_used_count, expert_shared_count, expert_feed_forward_length
//   expert_group_count, expert_group_used_count     n_group, topk_group (absent: 1)
//   expert_weights_scale, expert_weights_norm       routed_scaling_factor, norm_topk_prob
//   expert_gating_func 1 softmax / 2 sigmoid        scoring_func (absent: softmax, as llama.cpp)
//   leading_dense_block_count                       first_k_dense_replace
//   attention.layer_norm_rms_epsilon                rms_norm_eps
// topk_method has no key: noaux_tc when the file has exp_probs_b tensors, else
// group_limited_greedy when there are expert groups, else greedy. The head is tied when there
// is no output.weight.
#pragma once
#include <string>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "model/config.h"

namespace dsv3 {

// Throws Error naming `path` and the key at fault (wrong architecture, missing key, bad value).
ModelConfig gguf_model_config(const GgufContents& c, const std::string& path);

// Writes the deepseek2.* keys of `cfg` (and general.architecture); throws Error for configs
// llama.cpp cannot describe (moe_layer_freq != 1).
void add_gguf_model_config(GgufWriter& w, const ModelConfig& cfg);

}  // namespace dsv3
