// One GRPO step's data (train/grpo.h has the objective): the trainer picks the step's prompts
// from the prompt set (its shuffled sampler, so a resumed run picks the same ones); this hook
// samples G outputs per prompt with the inference engine over the step's own weights (the
// continuous batcher of eval/gen.h), scores them with the rewards, normalises the rewards within
// each group, and hands the trainer one batch of prompt + output rows per micro-batch, whose
// head objective is GRPO's with ℓ_old from the policy's forward and ℓ_ref from the frozen
// reference model's, on the same rows.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "eval/gen.h"
#include "io/json_file.h"
#include "posttrain/reward.h"
#include "train/data.h"
#include "train/distill.h"
#include "train/grpo.h"

namespace dsv3::posttrain {

struct GrpoRunOptions {
  GrpoOptions grpo;
  eval::GenOptions gen;  // max_new_tokens, sampling.temperature, chat, start (sampling.seed: per step)
  uint64_t seed = 1;     // the samples of step s use seeds mix64(seed + s) + j
  Precision precision = Precision::kF32;  // the trainer's
};

// The prompts as the trainer's data set: sequence i is item i's prompt tokens, padded with eos
// to the longest (the hook reads TokenRows::seq_index, not these tokens). No held-out split.
Dataset prompt_dataset(const std::vector<eval::GenItem>& items, const Tokenizer& tok, const eval::GenOptions& gen);

class GrpoStep {
 public:
  GrpoStep(const ModelConfig& cfg, const Tokenizer& tok, std::vector<eval::GenItem> items,
           std::vector<WeightedReward> rewards, const std::string& reference_dir, const GrpoRunOptions& opt);
  // The trainer's StepHook (train/trainer.h).
  json operator()(int64_t step, const ModelWeights& w, std::vector<TokenRows>& batches,
                  std::vector<std::unique_ptr<HeadObjective>>& heads);

 private:
  struct Sample {
    std::vector<int32_t> prompt, output;
    double reward = 0;
  };
  TokenRows rows_of(const std::vector<Sample>& s, size_t first, size_t count) const;
  std::vector<double> token_logp(const TokenRows& rows, const ModelWeights* w);  // null w: the reference

  ModelConfig cfg_;
  const Tokenizer& tok_;
  std::vector<eval::GenItem> items_;
  std::vector<WeightedReward> rewards_;
  FrozenModel ref_;
  TrainModel policy_;  // the forward that gives ℓ_old
  GrpoRunOptions opt_;
};

}  // namespace dsv3::posttrain
