// The sampling and speculative-decoding options shared by generate and chat.
#pragma once
#include <set>
#include <string>

#include "cli_args.h"
#include "infer/sampler.h"

namespace dsv3::cli {

// --temperature --top-k --top-p --min-p --repetition-penalty --frequency-penalty
// --presence-penalty --seed --speculative --draft
extern const std::set<std::string> kSamplingOptions;
extern const char* kSamplingUsage;

SamplingParams parse_sampling(const Args& a);  // validates ranges

// Drafts per step: 0 unless --speculative mtp; --draft N (default 1) needs it.
int64_t parse_draft_tokens(const Args& a);

// valued ∪ kSamplingOptions
std::set<std::string> with_sampling(std::set<std::string> valued);

}  // namespace dsv3::cli
