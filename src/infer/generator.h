// Generation for a batch of prompts of different lengths: one prefill pass over all prompt
// tokens, then decode steps in which every unfinished sequence contributes one row to a single
// batched forward through its latent cache.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "infer/sampler.h"
#include "model/model.h"

namespace dsv3 {

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  SamplingParams sampling;
  bool stop_at_eos = true;
};

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// Called for each new token of sequence `seq`; return false to stop that sequence.
using TokenCallback = std::function<bool(int64_t seq, int32_t token)>;

std::vector<std::vector<int32_t>> generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerateOptions& opt, GenerateStats* stats = nullptr,
                                           const TokenCallback& on_token = nullptr);

}  // namespace dsv3
