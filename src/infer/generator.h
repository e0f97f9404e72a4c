// Generation for a batch of prompts of different lengths, on top of the Batcher: one step
// prefills every prompt, then each step decodes one row per unfinished sequence (plus its MTP
// drafts when speculative decoding is on) in a single batched forward.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "infer/batcher.h"
#include "infer/sampler.h"
#include "model/model.h"

namespace dsv3 {

struct GenerateOptions {
  int64_t max_new_tokens = 32;
  SamplingParams sampling;  // sequence s uses seed sampling.seed + s
  bool stop_at_eos = true;
  int64_t draft_tokens = 0;  // MTP speculative decoding with this many drafts per step; 0: off
  // Constrained decoding: a fresh constraint for each sequence (null: free output).
  std::function<std::shared_ptr<TokenConstraint>()> constraint;
  ForwardObserver* observer = nullptr;  // the batcher's (BatcherOptions::observer); not owned
  int64_t in_flight = 1;                // BatcherOptions::in_flight: steps in flight (pipeline)
};

struct GenerateStats {
  int64_t prompt_tokens = 0, generated_tokens = 0;
  int64_t steps = 0, sequence_steps = 0, drafted = 0, accepted = 0;  // sequence_steps: Σ sequences per step
  double prefill_seconds = 0, decode_seconds = 0;  // steps with prompt rows / the others
  double acceptance_rate() const { return drafted ? double(accepted) / double(drafted) : 0.0; }
  // Generated tokens per second of the whole run: the first one comes out of the prefill step.
  double generated_per_second() const {
    return double(generated_tokens) / std::max(decode_seconds + prefill_seconds, 1e-9);
  }
  // Tokens a sequence gains per forward: 1 for plain decoding, up to 1 + drafts with MTP.
  double tokens_per_step() const { return sequence_steps ? double(generated_tokens) / double(sequence_steps) : 0.0; }
};

// Called for each new token of sequence `seq`; return false to stop that sequence.
using TokenCallback = std::function<bool(int64_t seq, int32_t token)>;

std::vector<std::vector<int32_t>> generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                           const GenerateOptions& opt, GenerateStats* stats = nullptr,
                                           const TokenCallback& on_token = nullptr);

}  // namespace dsv3
