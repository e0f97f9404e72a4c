#include "sampling_args.h"

#include "core/error.h"

namespace dsv3::cli {

const std::set<std::string> kSamplingOptions = {"temperature",        "top-k",   "top-p",       "min-p",
                                                "repetition-penalty", "frequency-penalty", "presence-penalty",
                                                "seed",               "speculative", "draft"};

const char* kSamplingUsage =
    "sampling: --temperature T (0: greedy, the default)  --top-k K  --top-p P  --min-p P  --seed S\n"
    "          --repetition-penalty R  --frequency-penalty F  --presence-penalty P\n"
    "speculative decoding: --speculative mtp [--draft N]   (N drafts per step from the MTP module, default 1)\n";

SamplingParams parse_sampling(const Args& a) {
  SamplingParams p;
  p.temperature = float(a.number("temperature", 0.0));
  if (!(p.temperature >= 0.0f)) fail("--temperature must be >= 0");
  p.top_k = a.integer("top-k", 0);
  if (p.top_k < 0) fail("--top-k must be >= 0");
  p.top_p = float(a.number("top-p", 1.0));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail("--top-p must be in (0, 1]");
  p.min_p = float(a.number("min-p", 0.0));
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) fail("--min-p must be in [0, 1]");
  p.repetition_penalty = float(a.number("repetition-penalty", 1.0));
  if (!(p.repetition_penalty > 0.0f)) fail("--repetition-penalty must be > 0");
  p.frequency_penalty = float(a.number("frequency-penalty", 0.0));
  p.presence_penalty = float(a.number("presence-penalty", 0.0));
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) fail("--frequency-penalty must be in [-2, 2]");
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) fail("--presence-penalty must be in [-2, 2]");
  p.seed = uint64_t(a.integer("seed", 0));
  return p;
}

int64_t parse_draft_tokens(const Args& a) {
  const std::string mode = a.str("speculative");
  if (mode.empty()) {
    if (a.has("draft")) fail("--draft needs --speculative mtp");
    return 0;
  }
  if (mode != "mtp") fail("--speculative: unknown drafter '", mode, "' (only 'mtp')");
  const int64_t n = a.integer("draft", 1);
  if (n < 1 || n > 16) fail("--draft must be in [1, 16]");
  return n;
}

std::set<std::string> with_sampling(std::set<std::string> valued) {
  valued.insert(kSamplingOptions.begin(), kSamplingOptions.end());
  return valued;
}

}  // namespace dsv3::cli
