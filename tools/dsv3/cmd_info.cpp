// dsv3 info: what a checkpoint is, how many parameters it has and how many a token uses,
// how many bytes of weights a decoded token reads, and how many bytes of cache it keeps.
#include <cstdio>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "model/model.h"
#include "model/param_count.h"
#include "model_path.h"

namespace dsv3::cli {

namespace {
const char* kUsage = "usage: dsv3 info [--model DIR]\n";

std::string human(double v, const char* unit) {
  const char* p[] = {"", "K", "M", "G", "T"};
  int i = 0;
  while (v >= 1000.0 && i < 4) v /= 1000.0, ++i;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %s%s", v, p[i], unit);
  return buf;
}
}  // namespace

int cmd_info(int argc, char** argv) {
  const Args a(argc, argv, {"model", "threads"}, {"help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  const std::string dir = resolve_model_dir(a.str("model"));
  const auto model = Model::load(dir);
  const ModelConfig& c = model->config();
  const ParamCount pc = count_params(*model);

  std::printf("model:            %s (%s)\n", dir.c_str(), c.architecture.c_str());
  std::printf("layers:           %lld (%lld dense, %lld MoE) + %lld MTP\n", (long long)c.num_hidden_layers,
              (long long)pc.dense_layers, (long long)pc.moe_layers, (long long)c.num_nextn_predict_layers);
  std::printf("hidden:           %lld, vocab %lld, context %lld\n", (long long)c.hidden_size, (long long)c.vocab_size,
              (long long)c.max_position_embeddings);
  std::printf("attention:        MLA, %lld heads, q_lora_rank %lld, kv_lora_rank %lld, qk %lld+%lld (nope+rope), v %lld\n",
              (long long)c.num_attention_heads, (long long)c.q_lora_rank, (long long)c.kv_lora_rank,
              (long long)c.qk_nope_head_dim, (long long)c.qk_rope_head_dim, (long long)c.v_head_dim);
  std::printf("rope:             theta %g%s\n", c.rope_theta,
              c.yarn_active() ? cat(", YaRN factor ", c.rope_scaling.factor, " from ",
                                    c.rope_scaling.original_max_position_embeddings).c_str() : "");
  if (c.n_routed_experts > 0)
    std::printf("moe:              %lld routed (top-%lld, %lld groups keep %lld, %s, %s) + %lld shared, scale %g\n",
                (long long)c.n_routed_experts, (long long)c.num_experts_per_tok, (long long)c.n_group,
                (long long)c.topk_group, scoring_func_name(c.scoring_func), topk_method_name(c.topk_method), (long long)c.n_shared_experts,
                c.routed_scaling_factor);
  std::printf("weights:          %s on disk, %s\n", human(double(model->checkpoint()->total_bytes()), "B").c_str(),
              c.fp8_quantized ? "FP8 e4m3 block-scaled" : c.torch_dtype.c_str());
  std::printf("parameters:       %s total (%s main model, %s MTP)\n", human(double(pc.total), "").c_str(),
              human(double(pc.total - pc.mtp), "").c_str(), human(double(pc.mtp), "").c_str());
  std::printf("active per token: %s parameters\n", human(double(pc.active), "").c_str());
  std::printf("weights read per decoded token: %s\n", human(double(pc.active_bytes), "B").c_str());
  std::printf("KV cache per token: %lld bytes (%lld layers x (%lld latent + %lld rope) x float32)\n",
              (long long)SequenceCache::bytes_per_token(c.num_hidden_layers, c.kv_lora_rank, c.qk_rope_head_dim),
              (long long)c.num_hidden_layers, (long long)c.kv_lora_rank, (long long)c.qk_rope_head_dim);
  std::printf("                  %lld bytes with --cache-type bf16, %lld with fp8 (c_KV E4M3 + a float32 scale, k_R BF16)\n",
              (long long)SequenceCache::bytes_per_token(c.num_hidden_layers, c.kv_lora_rank, c.qk_rope_head_dim,
                                                        CacheType::BF16),
              (long long)SequenceCache::bytes_per_token(c.num_hidden_layers, c.kv_lora_rank, c.qk_rope_head_dim,
                                                        CacheType::FP8));
  if (!model->unused_tensors().empty())
    std::printf("unused tensors:   %zu (first: %s)\n", model->unused_tensors().size(), model->unused_tensors()[0].c_str());
  return 0;
}

}  // namespace dsv3::cli
