// dsv3 distill: sequence distillation's data (docs/post-training.md). The teacher answers every
// prompt of a file (its reasoning, if it writes any, in its <think> block, kept as written), and
// each answer becomes one chat line {"messages": [user, assistant]} for `dsv3 train --sft`: the
// path by which DeepSeek-V3 learnt from DeepSeek-R1's outputs. With --text each line is instead
// {"text": prompt + answer}, for a teacher prompted without a chat template (plain `--data`).
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "eval/gen.h"
#include "eval/progress.h"
#include "io/json_file.h"
#include "model_path.h"
#include "sampling_args.h"
#include "text_prompt.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 distill --teacher DIR --prompts FILE.jsonl --out CHAT.jsonl [options]\n"
    "Writes the teacher's answer to every {\"prompt\": ...} line of FILE as a chat line for\n"
    "`dsv3 train --sft --data CHAT.jsonl` (sequence distillation).\n"
    "  --samples 1  answers per prompt   --max-new-tokens 256  --stop STR  --batch 16\n"
    "  --chat       prompts as one user message through the teacher's chat template\n"
    "  --text       write {\"text\": prompt + answer} lines (for `dsv3 train --data`) instead of chat lines\n"
    "  --prompt-start bos|eos|none  (without --chat)   --threads N   and the sampling options\n";

std::vector<std::string> read_prompts(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream in(eval::read_task_text(path));
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("prompt") || !j["prompt"].is_string())
      fail(path, ":", n, ": expected a JSON object with a string \"prompt\"");
    out.push_back(j["prompt"].get<std::string>());
  }
  if (out.empty()) fail(path, ": no prompts");
  return out;
}

}  // namespace

int cmd_distill(int argc, char** argv) {
  const Args a(argc, argv,
               with_sampling({"teacher", "prompts", "out", "samples", "max-new-tokens", "stop", "batch", "threads",
                              "prompt-start"}),
               {"help", "chat", "text"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  apply_threads(a);
  const std::string dir = a.required("teacher"), out_path = a.required("out");
  const std::optional<Tokenizer> tok = load_model_tokenizer(dir);
  if (!tok) fail(dir, ": no tokenizer.json (distill writes text)");
  const std::vector<std::string> prompts = read_prompts(a.required("prompts"));
  eval::GenOptions opt;
  opt.sampling = parse_sampling(a);
  opt.max_new_tokens = a.integer("max-new-tokens", 256);
  opt.max_sequences = a.integer("batch", 16);
  const int64_t samples = a.integer("samples", 1);
  if (opt.max_new_tokens < 1 || opt.max_sequences < 1 || samples < 1)
    fail("--max-new-tokens, --batch and --samples must be >= 1");
  if (a.has("stop")) opt.stop = {a.str("stop")};
  opt.chat = a.has("chat");
  opt.start = eval::parse_prompt_start(a.str("prompt-start", "bos"));
  opt.progress = eval::progress_wanted();
  const auto model = load_model(dir);
  std::vector<eval::GenJob> jobs;
  for (const std::string& p : prompts)
    for (int64_t k = 0; k < samples; ++k) jobs.push_back({eval::encode_prompt(*tok, p, opt.chat, opt.start), {}});
  eval::GenRunStats st;
  const std::vector<eval::GenOutput> outs = eval::generate_texts(*model, *tok, jobs, opt, &st);
  std::ofstream f(out_path);
  if (!f) fail(out_path, ": cannot write");
  int64_t written = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const std::string& p = prompts[j / size_t(samples)];
    if (!outs[j].failure.empty()) {
      std::fprintf(stderr, "dsv3 distill: prompt %zu skipped: %s\n", j / size_t(samples) + 1, outs[j].failure.c_str());
      continue;
    }
    const json line = a.has("text") ? json{{"text", p + outs[j].text}}
                                    : json{{"messages", {{{"role", "user"}, {"content", p}},
                                                         {{"role", "assistant"}, {"content", outs[j].text}}}}};
    f << line.dump() << "\n";
    ++written;
  }
  std::fprintf(stderr, "dsv3 distill: %lld answers (%lld tokens in %.1f s) -> %s\n", (long long)written,
               (long long)st.generated, st.seconds, out_path.c_str());
  return 0;
}

}  // namespace dsv3::cli
