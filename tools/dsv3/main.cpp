// dsv3: run, study, train and serve DeepSeek-V3-family models.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "dist/world.h"
#include "io/mapped_file.h"
#include "kernels/linear.h"
#include "model/latent_cache.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"info", dsv3::cli::cmd_info, "architecture, parameter counts, bytes per token of a checkpoint"},
    {"logits", dsv3::cli::cmd_logits, "write the logits (and MTP logits) of every prompt position"},
    {"generate", dsv3::cli::cmd_generate, "continue a prompt (greedy or sampled)"},
    {"quantize", dsv3::cli::cmd_quantize, "copy a checkpoint with its linear layers in FP8, INT8 or INT4 (GPTQ), or write it as a llama.cpp GGUF"},
    {"perplexity", dsv3::cli::cmd_perplexity, "perplexity of a text, and KL divergence / top-1 agreement against a base model"},
    {"bench", dsv3::cli::cmd_bench, "prefill and decode speed against the machine's measured limits"},
    {"tokenize", dsv3::cli::cmd_tokenize, "text (or JSONL of texts) to token ids"},
    {"detokenize", dsv3::cli::cmd_detokenize, "token ids to text"},
    {"chat-template", dsv3::cli::cmd_chat_template, "render a conversation with the chat template"},
    {"tokenizer-train", dsv3::cli::cmd_tokenizer_train, "train a byte-level BPE tokenizer on text files"},
    {"chat", dsv3::cli::cmd_chat, "interactive chat in the terminal through the chat template"},
    {"serve", dsv3::cli::cmd_serve, "OpenAI-compatible HTTP server with continuous batching"},
    {"init", dsv3::cli::cmd_init, "write a randomly initialised model (HF layout) from a config.json"},
    {"train", dsv3::cli::cmd_train, "train a model on text or chat JSONL (see docs/training.md)"},
    {"grads", dsv3::cli::cmd_grads, "training loss and gradients of every tensor for a token batch"},
    {"plot", dsv3::cli::cmd_plot, "SVG of a training run's loss curves and expert-load balance"},
    {"plan", dsv3::cli::cmd_plan, "memory, pipeline bubble and throughput of a model on a cluster"},
    {"data", dsv3::cli::cmd_data, "tokenize text/JSONL into token shards for train --data DIR"},
    {"eval", dsv3::cli::cmd_eval, "score a model on a task: perplexity, multiple choice, generation (pass@k), passkey"},
    {"distill", dsv3::cli::cmd_distill, "a teacher's answers to prompts as chat JSONL for train --sft (sequence distillation)"},
};

// The commands that run as one job over the ranks of an mpirun (--ep); the others refuse to
// start several independent copies of themselves.
const char* kDistributedCommands = "generate, logits, bench, serve and train";
bool runs_distributed(const char* name) {
  for (const char* n : {"generate", "logits", "bench", "serve", "train"})
    if (!std::strcmp(name, n)) return true;
  return false;
}

void usage(FILE* f) {
  std::fprintf(f, "usage: dsv3 <command> [options]   (dsv3 <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(f, "  %-16s %s\n", c.name, c.summary);
  std::fprintf(f, "\nSee docs/cli.md for every option.\n");
}

}  // namespace

int main(int argc, char** argv) {
  // Every forward pass allocates its scratch activations; above glibc's default 128 KB mmap
  // threshold each would be mapped, page-faulted in and unmapped on every call. Serving them
  // from the heap, and not returning freed memory to the OS, keeps steady-state steps fault-free.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    if (dsv3::dist::launched_ranks() > 1 && !runs_distributed(c.name)) {
      if (dsv3::dist::launched_rank() == 0)
        std::fprintf(stderr, "dsv3 %s: error: does not run under mpirun with several ranks (%s do: docs/distributed.md)\n",
                     c.name, kDistributedCommands);
      return 2;
    }
    std::string what;
    try {
      // bench prefills on BF16 dot products (activations rounded to BF16, as DeepSeek's BF16
      // inference does); the other commands keep exact float32 products, because serving's
      // continuous batching mixes decode rows into many-row products, where BF16 rounding would
      // make a row's result depend on its batch. DSV3_PREFILL_MATH=f32|bf16 overrides.
      const bool fast = !std::strcmp(c.name, "generate") || !std::strcmp(c.name, "chat") ||
                        !std::strcmp(c.name, "serve") || !std::strcmp(c.name, "bench");
      const bool bench = !std::strcmp(c.name, "bench");
      dsv3::set_prefill_math_default(bench ? dsv3::PrefillMath::Bf16 : dsv3::PrefillMath::F32);
      // FP8 decode products on BF16 dot products (kernels/linear.h DecodeMath) for the one-stream
      // commands; serve keeps float32: a decode row batched past 8 rows takes the float32 GEMM, so
      // BF16 there would make a request's output depend on its batch. DSV3_DECODE_MATH overrides.
      const bool one_stream = fast && std::strcmp(c.name, "serve") != 0;
      dsv3::set_decode_math_default(one_stream ? dsv3::DecodeMath::Bf16 : dsv3::DecodeMath::F32);
      // generate, chat, serve and bench keep the latent cache in BF16 (half the memory and attention reads);
      // DSV3_CACHE_TYPE=f32|bf16 overrides, bench's --cache-type too.
      const char* cache_env = std::getenv("DSV3_CACHE_TYPE");
      dsv3::default_cache_type() = cache_env ? dsv3::parse_cache_type(cache_env)
                                             : fast ? dsv3::CacheType::BF16 : dsv3::CacheType::F32;
      // They also read checkpoint files that fit into 2 MB-page memory (io/mapped_file.h): decode
      // streams every weight per token. Not under mpirun: ranks map and touch only their share.
      dsv3::set_default_load_mode(fast && dsv3::dist::launched_ranks() <= 1 ? dsv3::LoadMode::ReadIfFits
                                                                          : dsv3::LoadMode::Map);
      return c.run(argc - 2, argv + 2);
    } catch (const dsv3::Error& e) {
      what = e.what();
    } catch (const std::bad_alloc&) {
      what = "out of memory";
    } catch (const std::exception& e) {
      what = e.what();
    }
    dsv3::dist::report_error(c.name, what);  // under mpirun: one line from one rank, and the job ends
    return 1;
  }
  std::fprintf(stderr, "dsv3: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
