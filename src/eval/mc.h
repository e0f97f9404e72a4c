// Multiple choice by log-likelihood, as lm-evaluation-harness scores MMLU or HellaSwag: each
// choice is the continuation " " + choice of the question; its log-likelihood is the sum over
// its tokens; accuracy takes the argmax of those, acc_norm the argmax of log-likelihood divided
// by the choice's length in characters (metrics.h).
#pragma once
#include <cstdint>
#include <vector>

#include "eval/prompt.h"
#include "eval/report.h"
#include "eval/task_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace dsv3::eval {

struct McOptions {
  std::string delimiter = " ";  // between the question and a choice (lm-eval's target_delimiter)
  PromptStart start = PromptStart::kBos;
  int64_t items_per_batch = 16; // items whose choices are scored together
  bool progress = false;
};

// Context and continuation tokens of one (question, choice), split as lm-eval does: trailing
// whitespace of the context moves to the continuation, the pair is encoded whole and the
// continuation is what follows the context's own tokens.
struct McPair {
  std::vector<int32_t> context, continuation;
};
McPair encode_mc_pair(const Tokenizer& tok, const std::string& context, const std::string& continuation,
                      PromptStart start = PromptStart::kBos);

struct McItemResult {
  std::vector<double> loglik;  // per choice
  int64_t pred = -1, pred_norm = -1;  // -1: failed
  std::string failure;
};

std::vector<McItemResult> score_mc(const Model& m, const Tokenizer& tok, const std::vector<McItem>& items,
                                   const McOptions& opt);
Report mc_report(const std::string& task, const std::vector<McItem>& items, const std::vector<McItemResult>& res);

}  // namespace dsv3::eval
