// dsv3 chat: an interactive conversation in the terminal through the model's chat template.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "core/parallel.h"
#include "infer/generator.h"
#include "model_path.h"
#include "sampling_args.h"
#include "text_prompt.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 chat [--model DIR] [--system TEXT] [--max-new-tokens 512] [sampling options] [--threads N]\n                 [--cache-type bf16|f32|fp8]\n"
    "Talk to the model: each line you type is a user message; the reply streams as it is generated\n"
    "and ends with its token count and speed (on stderr). The conversation is rendered with the\n"
    "model folder's chat template each turn. Commands: /reset (forget the conversation, keep the\n"
    "system prompt), /exit (or end of input). Ctrl-C during a reply stops that reply.\n"
    "Without --model: $DSV3_MODEL, else the model that ships with the repository.\n";

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

// Ctrl-C stops the reply being generated rather than the program, while this is alive.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_);
  }
  ~InterruptScope() { sigaction(SIGINT, &old_, nullptr); }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  struct sigaction old_ {};
};

nlohmann::json fresh_conversation(const std::string& system) {
  nlohmann::json m = nlohmann::json::array();
  if (!system.empty()) m.push_back({{"role", "system"}, {"content", system}});
  return m;
}

struct Reply {
  std::string text;
  GenerateStats stats;
};

// Streams the assistant's reply to stdout as it is generated.
Reply stream_reply(const Model& model, const Tokenizer& tok, const std::vector<int32_t>& prompt,
                   const GenerateOptions& opt) {
  Reply r;
  StreamDecoder stream(tok, /*skip_special=*/true);
  const auto write = [&](const std::string& piece) {
    r.text += piece;
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  InterruptScope interrupt;
  generate(model, {prompt}, opt, &r.stats, [&](int64_t, int32_t id) {
    if (id != tok.eos_id() && tok.has_id(id)) write(stream.push(id));
    return !g_interrupted.load();
  });
  write(stream.finish());
  std::fputs("\n", stdout);
  std::fflush(stdout);
  return r;
}

void print_reply_stats(const GenerateStats& st, bool speculative) {
  std::fprintf(stderr, "[%lld prompt + %lld generated tokens, %.1f tok/s, %.2f s", (long long)st.prompt_tokens,
               (long long)st.generated_tokens, st.generated_per_second(), st.prefill_seconds + st.decode_seconds);
  if (speculative) std::fprintf(stderr, ", MTP acceptance %.1f%%", 100.0 * st.acceptance_rate());
  std::fputs("]\n", stderr);
}

}  // namespace

int cmd_chat(int argc, char** argv) {
  const Args a(argc, argv, with_sampling({"model", "system", "max-new-tokens", "threads", "cache-type"}), {"help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), std::fputs(kSamplingUsage, stdout), 0;
  apply_threads(a);
  apply_cache_type(a);
  const std::string dir = resolve_model_dir(a.str("model"));
  const auto tok = load_model_tokenizer(dir);
  if (!tok) fail(dir, ": dsv3 chat needs the model folder's tokenizer.json");
  if (tok->config().chat_template.empty()) fail(dir, ": tokenizer_config.json has no chat_template");
  GenerateOptions opt;
  opt.max_new_tokens = a.integer("max-new-tokens", 512);
  if (opt.max_new_tokens < 1) fail("--max-new-tokens must be >= 1");
  opt.sampling = parse_sampling(a);
  const uint64_t base_seed = opt.sampling.seed;
  opt.draft_tokens = parse_draft_tokens(a);
  opt.stop_at_eos = true;
  const auto model = load_model(dir);
  const int64_t context = model->config().max_position_embeddings;

  const std::string system = a.str("system");
  nlohmann::json conversation = fresh_conversation(system);
  const bool interactive = isatty(STDIN_FILENO);
  if (interactive) std::fprintf(stderr, "dsv3 chat: %s (/reset, /exit)\n", dir.c_str());
  std::string line;
  for (int turn = 0;; ++turn) {
    if (interactive) std::fputs(">>> ", stdout), std::fflush(stdout);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line == "/reset") {
      conversation = fresh_conversation(system);
      std::fputs("(conversation reset)\n", stdout);
      continue;
    }
    if (line.empty()) continue;
    nlohmann::json next = conversation;
    next.push_back({{"role", "user"}, {"content", line}});
    std::vector<int32_t> prompt;
    try {
      prompt = tok->encode(tok->render_chat(next, /*add_generation_prompt=*/true));
    } catch (const Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());  // e.g. invalid UTF-8: the turn is dropped
      continue;
    }
    // The reply needs room too: stop here rather than fail in the middle of it.
    if (int64_t(prompt.size()) + opt.max_new_tokens > context) {
      std::fprintf(stderr, "error: the conversation is %zu tokens; with --max-new-tokens %lld it exceeds the context of %lld (/reset to start over)\n",
                   prompt.size(), (long long)opt.max_new_tokens, (long long)context);
      continue;
    }
    opt.sampling.seed = base_seed + uint64_t(turn);  // reproducible, yet not the same draw every turn
    const Reply reply = stream_reply(*model, *tok, prompt, opt);
    print_reply_stats(reply.stats, opt.draft_tokens > 0);
    conversation = std::move(next);
    conversation.push_back({{"role", "assistant"}, {"content", reply.text}});
  }
  return 0;
}

}  // namespace dsv3::cli
