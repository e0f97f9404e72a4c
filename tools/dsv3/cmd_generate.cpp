// dsv3 generate: continue one or more prompts through the latent KV cache.
#include <cstdio>
#include <sstream>
#include <vector>

#include "cli_args.h"
#include "expert_parallel_run.h"
#include "pipeline_generate.h"
#include "commands.h"
#include "core/error.h"
#include "infer/generator.h"
#include "io/json_file.h"
#include "model_path.h"
#include "sampling_args.h"
#include "text_prompt.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 generate --model DIR (--tokens 5,9,13[;7,8,...] | --prompt TEXT [--chat]) --max-new-tokens N\n"
    "                     [sampling options] [--ids] [--stop-at-eos] [--stats] [--threads N] [--cache-type bf16|f32|fp8]\n"
    "                     [--json-schema FILE|object]\n"
    "Prints the generated token ids of each prompt (prompts separated by ';') on one line each.\n"
    "With --tokens, generation works at the token level and runs exactly --max-new-tokens steps\n"
    "(as DeepSeek's reference does) unless --stop-at-eos is given.\n"
    "With --prompt, the continuation is printed as text while it is generated (ids with --ids)\n"
    "and stops at EOS. --stats prints prefill/decode speed and, with --speculative mtp, the draft\n"
    "acceptance rate and tokens per step to stderr.\n"
    "--json-schema constrains each output to JSON valid under the schema in FILE (or any JSON\n"
    "object), followed by EOS; needs the model's tokenizer (docs/serving.md, structured output).\n";

std::vector<std::vector<int32_t>> parse_prompts(const std::string& s) {
  std::vector<std::vector<int32_t>> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ';')) out.push_back(parse_token_list(part));
  if (out.empty()) fail("--tokens: no prompt given");
  return out;
}

// After generation: the --profile file, then the --stats lines.
// Under --pp the other ranks have left (they follow rank 0's steps only): no collective here.
void finish(const Args& a, const GenerateStats& st, const Model& model, const ExpertParallelRun& ep, bool pp) {
  if (!pp) ep.write_profile();
  if (!a.has("stats")) return;
  if (!pp) ep.print_stats(model);
  if (!ep.output_rank()) return;
  std::fprintf(stderr, "prefill: %lld tokens in %.3f s (%.1f tok/s); decode: %lld tokens in %.3f s (%.1f tok/s)\n",
               (long long)st.prompt_tokens, st.prefill_seconds, st.prompt_tokens / std::max(st.prefill_seconds, 1e-9),
               (long long)st.generated_tokens, st.decode_seconds, st.generated_per_second());
  if (st.drafted > 0)
    std::fprintf(stderr, "speculative (mtp): %lld of %lld drafts accepted (acceptance rate %.1f%%), %.2f tokens per sequence per step\n",
                 (long long)st.accepted, (long long)st.drafted, 100.0 * st.acceptance_rate(), st.tokens_per_step());
}

// --json-schema FILE (or "object": any JSON object): each output is that JSON, then EOS.
std::function<std::shared_ptr<TokenConstraint>()> json_constraint(const Args& a, const Model& model) {
  const auto tok = load_model_tokenizer(resolve_model_dir(a.str("model")));
  if (!tok) fail("--json-schema needs a model with a tokenizer");
  const std::string spec = a.str("json-schema");
  auto grammar = std::make_shared<const JsonGrammar>(spec == "object" ? JsonGrammar::any_object()
                                                                      : JsonGrammar::from_schema(read_json_file(spec)));
  std::vector<std::string> bytes(size_t(tok->vocab_size()));
  for (int32_t id = 0; id < tok->vocab_size(); ++id) bytes[size_t(id)] = tok->token_bytes(id);
  auto trie = std::make_shared<const TokenTrie>(bytes);
  const auto& eos = model.config().eos_token_ids;
  const std::vector<int32_t> then = {eos.empty() ? tok->eos_id() : int32_t(eos[0])};
  return [grammar, trie, then] { return std::make_shared<JsonConstraint>(grammar, trie, then); };
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  const Args a(argc, argv,
               with_sampling({"model", "tokens", "prompt", "max-new-tokens", "threads", "ep", "profile", "json-schema", "pp", "stage-layers", "cache-type", "micro-batches", "in-flight"}),
               {"ids", "stats", "stop-at-eos", "chat", "help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), std::fputs(kPromptOptionsHelp, stdout), std::fputs(kSamplingUsage, stdout), std::fputs(kEpUsage, stdout), std::fputs(kPipelineGenerateUsage, stdout), 0;
  apply_threads(a);
  apply_cache_type(a);
  const bool text_prompt = a.has("prompt");
  const auto tok = text_prompt ? load_model_tokenizer(resolve_model_dir(a.str("model"))) : std::nullopt;
  const auto prompts = text_prompt ? std::vector<std::vector<int32_t>>{prompt_tokens(a, tok ? &*tok : nullptr)}
                                   : parse_prompts(a.required("tokens"));
  GenerateOptions opt;
  opt.max_new_tokens = a.integer("max-new-tokens", 32);
  if (opt.max_new_tokens < 0) fail("--max-new-tokens must be >= 0");
  opt.sampling = parse_sampling(a);
  opt.draft_tokens = parse_draft_tokens(a);
  opt.stop_at_eos = a.has("stop-at-eos") || text_prompt;
  const auto model = load_model(a.str("model"));
  PipelineGenerateRun pp(a, *model, resolve_model_dir(a.str("model")));
  const ExpertParallelRun ep(a, *model, resolve_model_dir(a.str("model")));
  if (pp.follower()) return pp.follow(), 0;  // rank 0 samples; this rank runs its layers
  opt.observer = pp.observer();
  opt.in_flight = pp.in_flight();
  if (a.has("json-schema")) opt.constraint = json_constraint(a, *model);

  GenerateStats st;
  if (text_prompt && !a.has("ids")) {
    // Text appears as it is generated; a character cut between tokens waits for its last byte.
    StreamDecoder stream(*tok, /*skip_special=*/true);
    generate(*model, prompts, opt, &st, [&](int64_t, int32_t id) {
      if (tok->has_id(id)) {  // a model's vocab may be larger than its tokenizer's
        const std::string piece = stream.push(id);
        std::fwrite(piece.data(), 1, piece.size(), stdout);
      }
      std::fflush(stdout);
      return true;
    });
    const std::string rest = stream.finish() + "\n";
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fflush(stdout);  // the text before the statistics on stderr
    pp.stop();
    finish(a, st, *model, ep, pp.active());
    return 0;
  }
  const auto outs = generate(*model, prompts, opt, &st);
  pp.stop();
  for (const auto& o : outs) {
    for (size_t i = 0; i < o.size(); ++i) std::printf("%s%d", i ? " " : "", o[i]);
    std::printf("\n");
  }
  std::fflush(stdout);
  finish(a, st, *model, ep, pp.active());
  return 0;
}


}  // namespace dsv3::cli
