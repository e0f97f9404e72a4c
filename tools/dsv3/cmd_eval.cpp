// dsv3 eval: a model's score on a task file (docs/evaluation.md): perplexity of a text,
// multiple choice by log-likelihood, generation with answer extraction (exact match, pass@k),
// passkey retrieval over a grid of lengths and depths. Prints a markdown table with 95%
// intervals, or with --json one JSON object.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "eval/gen.h"
#include "eval/mc.h"
#include "eval/passkey.h"
#include "eval/perplexity.h"
#include "eval/progress.h"
#include "io/json_file.h"
#include "model_path.h"
#include "sampling_args.h"
#include "text_prompt.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 eval [--model DIR] --task FILE [--kind ppl|mc|gen|passkey] [--json] [options]\n"
    "Scores the model on a task (docs/evaluation.md); the kind is guessed from FILE when not given\n"
    "(.jsonl with \"choices\": mc, other .jsonl: gen, a text file: ppl). Prints a markdown table with\n"
    "95% confidence intervals, or with --json one JSON object {metric, value, n, ci, ...}.\n"
    "  --limit N              only the first N items\n"
    "  --samples-out FILE     one JSON line per item: prediction / outputs, extracted answers\n"
    "  --prompt-start bos|eos|none  what prompts start with (default bos, as tokenizer_config.json asks;\n"
    "                         eos for a model pre-trained on documents packed with EOS and no BOS)\n"
    "ppl:     --ctx 256 --chunks N --lines   (chunks of --ctx tokens, the second half of each scored,\n"
    "         as dsv3 perplexity; plus perplexity by position over whole chunks)\n"
    "gen:     --answer last_number|boxed|exact|regex:PAT (default: last_number when every reference\n"
    "         is a number, else exact)  --samples N  --k 1,5  --max-new-tokens 64  --stop STR\n"
    "         --chat  --batch 16 (sequences decoded together)  and the sampling options below\n"
    "passkey: --lengths L1,L2 (tokens; default a quarter, a half and all of the context)\n"
    "         --depths 0,0.25,0.5,0.75,1  --trials 5  [--task FILLER.txt]\n"
    "  --threads N\n"
    "  --cache-type f32|bf16|fp8 (the latent cache; default f32)\n";

// "\n" and "\t" in --stop, as a shell cannot easily pass a newline.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == 't' || s[i + 1] == '\\')) {
      out += s[i + 1] == 'n' ? '\n' : s[i + 1] == 't' ? '\t' : '\\';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

template <typename T>
void apply_limit(const Args& a, std::vector<T>& items) {
  if (!a.has("limit")) return;
  const int64_t n = a.integer("limit", 0);
  if (n < 1) fail("--limit must be >= 1");
  if (int64_t(items.size()) > n) items.resize(size_t(n));
}

std::vector<int64_t> int_list(const Args& a, const std::string& name, std::vector<int64_t> fallback) {
  if (!a.has(name)) return fallback;
  std::vector<int64_t> out;
  for (const std::string& s : split_list(a.str(name))) {
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end || v < 1) fail("--", name, ": '", s, "' is not a positive integer");
    out.push_back(v);
  }
  if (out.empty()) fail("--", name, " is empty");
  return out;
}

std::vector<double> depth_list(const Args& a) {
  if (!a.has("depths")) return {0.0, 0.25, 0.5, 0.75, 1.0};
  std::vector<double> out;
  for (const std::string& s : split_list(a.str("depths"))) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (*end || !(v >= 0.0 && v <= 1.0)) fail("--depths: '", s, "' is not a number in [0, 1]");
    out.push_back(v);
  }
  if (out.empty()) fail("--depths is empty");
  return out;
}

std::ofstream samples_file(const Args& a) {
  std::ofstream f;
  if (!a.has("samples-out")) return f;
  f.open(a.str("samples-out"));
  if (!f) fail("--samples-out ", a.str("samples-out"), ": cannot write");
  return f;
}

eval::Report eval_ppl(const Args& a, const Model& m, const Tokenizer& tok, const std::string& task) {
  const int64_t ctx = a.integer("ctx", 256);
  if (ctx < 4 || ctx > m.config().max_position_embeddings) fail("--ctx must be in [4, ", m.config().max_position_embeddings, "]");
  const eval::TextTask t = eval::read_text_task(task);
  std::vector<int32_t> tokens;
  if (t.jsonl) {  // each document followed by EOS, as --lines does for lines
    if (m.config().eos_token_ids.empty()) fail("the model's config.json has no eos_token_id to end documents with");
    for (const std::string& d : t.documents) {
      tok.encode_append(d, tokens);
      tokens.push_back(int32_t(m.config().eos_token_ids.front()));
    }
  } else {
    tokens = eval::text_tokens(tok, t.text, a.has("lines"), m.config());
  }
  if (int64_t(tokens.size()) < ctx) fail(task, " has ", tokens.size(), " tokens: fewer than one chunk of --ctx ", ctx);
  return eval::perplexity_report(task, eval::perplexity(m, tokens, ctx, a.has("chunks") ? a.integer("chunks", -1) : -1));
}

eval::Report eval_mc(const Args& a, const Model& m, const Tokenizer& tok, const std::string& task) {
  std::vector<eval::McItem> items = eval::read_mc_task(task);
  apply_limit(a, items);
  eval::McOptions opt;
  opt.progress = eval::progress_wanted();
  opt.start = eval::parse_prompt_start(a.str("prompt-start", "bos"));
  const auto res = eval::score_mc(m, tok, items, opt);
  if (std::ofstream f = samples_file(a); f.is_open())
    for (size_t i = 0; i < items.size(); ++i)
      f << json{{"line", items[i].line}, {"answer", items[i].answer}, {"pred", res[i].pred}, {"pred_norm", res[i].pred_norm},
                {"loglik", res[i].loglik}, {"failure", res[i].failure}}.dump() << "\n";
  return eval::mc_report(task, items, res);
}

eval::GenOptions gen_options(const Args& a) {
  eval::GenOptions opt;
  opt.sampling = parse_sampling(a);
  opt.draft_tokens = parse_draft_tokens(a);
  opt.max_new_tokens = a.integer("max-new-tokens", 64);
  if (opt.max_new_tokens < 1) fail("--max-new-tokens must be >= 1");
  opt.max_sequences = a.integer("batch", 16);
  if (opt.max_sequences < 1) fail("--batch must be >= 1");
  if (a.has("stop")) opt.stop = {unescape(a.str("stop"))};
  opt.chat = a.has("chat");
  opt.start = eval::parse_prompt_start(a.str("prompt-start", "bos"));
  opt.progress = eval::progress_wanted();
  return opt;
}

std::string default_rule(const std::vector<eval::GenItem>& items) {
  for (const auto& it : items)
    for (const std::string& r : it.answers)
      if (eval::last_number(r).value_or("\x01") != eval::normalize_answer(r)) return "exact";
  return "last_number";
}

eval::Report eval_gen(const Args& a, const Model& m, const Tokenizer& tok, const std::string& task) {
  std::vector<eval::GenItem> items = eval::read_gen_task(task);
  apply_limit(a, items);
  eval::GenOptions opt = gen_options(a);
  opt.samples = a.integer("samples", 1);
  if (opt.samples < 1) fail("--samples must be >= 1");
  opt.ks = int_list(a, "k", {1});
  for (int64_t k : opt.ks)
    if (k > opt.samples) fail("--k ", k, " needs --samples >= ", k);
  if (opt.samples > 1 && opt.sampling.greedy())
    std::fprintf(stderr, "dsv3 eval: warning: --samples %lld with greedy decoding gives identical samples (set --temperature)\n",
                 (long long)opt.samples);
  const eval::Extractor ex(a.has("answer") ? a.str("answer") : default_rule(items));
  eval::GenRunStats st;
  const auto res = eval::run_gen_task(m, tok, items, ex, opt, &st);
  std::fprintf(stderr, "dsv3 eval: %zu prompts x %lld samples, %lld tokens generated in %.1f s (%.0f tok/s, %lld batched steps), answers by %s\n",
               items.size(), (long long)opt.samples, (long long)st.generated, st.seconds,
               double(st.generated) / std::max(st.seconds, 1e-9), (long long)st.steps, ex.rule().c_str());
  if (std::ofstream f = samples_file(a); f.is_open())
    for (size_t i = 0; i < items.size(); ++i)
      f << json{{"line", items[i].line}, {"answers", items[i].answers}, {"outputs", res[i].outputs},
                {"extracted", res[i].extracted}, {"correct", res[i].correct}, {"failure", res[i].failure}}.dump() << "\n";
  return eval::gen_report(task, items, res, opt);
}

eval::Report eval_passkey(const Args& a, const Model& m, const Tokenizer& tok) {
  eval::PasskeyOptions opt;
  const int64_t ctx = m.config().max_position_embeddings;
  opt.lengths = int_list(a, "lengths", {ctx / 4, ctx / 2, ctx - 16});
  opt.depths = depth_list(a);
  opt.trials = a.integer("trials", 5);
  if (opt.trials < 1) fail("--trials must be >= 1");
  if (a.has("task")) opt.filler = eval::read_text_task(a.str("task")).text;
  eval::GenOptions gen = gen_options(a);
  opt.seed = gen.sampling.seed + 1;
  return eval::run_passkey(m, tok, opt, gen);
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  const Args a(argc, argv,
               with_sampling({"model", "task", "kind", "limit", "samples-out", "ctx", "chunks", "answer", "samples", "k",
                              "max-new-tokens", "stop", "batch", "lengths", "depths", "trials", "threads", "prompt-start", "cache-type"}),
               {"help", "json", "lines", "chat"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  apply_threads(a);
  apply_cache_type(a);
  const std::string dir = resolve_model_dir(a.str("model"));
  const std::optional<Tokenizer> tok = load_model_tokenizer(dir);
  if (!tok) fail(dir, ": no tokenizer.json (eval reads text tasks)");
  const eval::TaskKind kind = a.has("kind") ? eval::parse_task_kind(a.str("kind"))
                                            : eval::detect_task_kind(a.required("task"));
  const std::string task = kind == eval::TaskKind::kPasskey ? a.str("task") : a.required("task");
  const auto model = load_model(dir);
  eval::Report r;
  switch (kind) {
    case eval::TaskKind::kPerplexity: r = eval_ppl(a, *model, *tok, task); break;
    case eval::TaskKind::kMultipleChoice: r = eval_mc(a, *model, *tok, task); break;
    case eval::TaskKind::kGeneration: r = eval_gen(a, *model, *tok, task); break;
    case eval::TaskKind::kPasskey: r = eval_passkey(a, *model, *tok); break;
  }
  for (const eval::Failure& f : r.failures)
    std::fprintf(stderr, "dsv3 eval: %s: sample failed: %s\n", (f.line ? cat(task, ":", f.line) : r.kind).c_str(), f.reason.c_str());
  if (a.has("json")) std::printf("%s\n", eval::report_json(r).dump().c_str());
  else std::fputs(eval::report_markdown(r).c_str(), stdout);
  return 0;
}

}  // namespace dsv3::cli
