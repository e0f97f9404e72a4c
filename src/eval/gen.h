// Generation tasks: every sample runs through the continuous Batcher (src/infer/batcher.h), up to
// max_sequences at once, so the prompts' decode steps are shared and a finished sample's place
// is taken by the next one at once. Output text is decoded as it streams and cut at the first
// stop string; the answer is extracted (extract.h) and compared with the references.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/extract.h"
#include "eval/prompt.h"
#include "eval/report.h"
#include "eval/task_file.h"
#include "infer/batcher.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace dsv3::eval {

struct GenOptions {
  int64_t max_new_tokens = 64;  // capped by what the context leaves after the prompt
  int64_t samples = 1;          // per prompt (pass@k's n)
  std::vector<int64_t> ks = {1};
  SamplingParams sampling;      // sample j of the run uses seed sampling.seed + j
  std::vector<std::string> stop;  // stop strings for every prompt
  int64_t max_sequences = 16;   // sequences in the batcher at once
  int64_t draft_tokens = 0;     // MTP speculative decoding
  bool chat = false;            // prompts as one user message through the chat template
  PromptStart start = PromptStart::kBos;
  bool progress = false;
};

struct GenJob {
  std::vector<int32_t> prompt;
  std::vector<std::string> stop;  // besides GenOptions::stop
};

struct GenOutput {
  std::string text;     // up to the first stop string, special tokens left out
  int64_t tokens = 0;   // generated
  std::vector<int32_t> ids;  // the generated tokens (through the one that completed a stop string)
  std::string failure;  // why it could not run (prompt over the context)
};

struct GenRunStats {
  int64_t steps = 0, generated = 0;
  double seconds = 0;
};

// Runs every job; outputs in job order.
std::vector<GenOutput> generate_texts(const Model& m, const Tokenizer& tok, const std::vector<GenJob>& jobs,
                                      const GenOptions& opt, GenRunStats* stats = nullptr);

// A generation task: samples per item, extraction, exact match and pass@k.
struct GenItemResult {
  std::vector<std::string> outputs, extracted;  // per sample ("" when nothing was extracted)
  int64_t correct = 0;
  std::string failure;
};
std::vector<GenItemResult> run_gen_task(const Model& m, const Tokenizer& tok, const std::vector<GenItem>& items,
                                        const Extractor& ex, const GenOptions& opt, GenRunStats* stats = nullptr);
Report gen_report(const std::string& task, const std::vector<GenItem>& items, const std::vector<GenItemResult>& res,
                  const GenOptions& opt);

// Whether an extracted answer equals one of the references (both normalised).
bool answer_matches(const std::string& extracted, const std::vector<std::string>& references);

}  // namespace dsv3::eval
