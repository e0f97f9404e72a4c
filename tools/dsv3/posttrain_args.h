// Post-training options of dsv3 train (docs/post-training.md):
//   --teacher DIR   logit distillation from a teacher sharing the tokenizer (train/distill.h)
//   --rl grpo       GRPO on a prompt file with rule-based rewards (train/grpo.h, posttrain/)
#pragma once
#include <memory>
#include <set>
#include <string>

#include "cli_args.h"
#include "tokenizer/tokenizer.h"
#include "train/distill.h"
#include "train/trainer.h"

namespace dsv3::cli {

class PostTraining {
 public:
  // Checks the options before any work; with --rl grpo it also reads the prompt file.
  PostTraining(const Args& a, const ModelConfig& cfg, const std::string& tokenizer_dir);
  ~PostTraining();
  // GRPO reads prompts, not --data: the prompt set to give the trainer instead.
  bool replaces_data() const { return rl_; }
  Dataset dataset() const;
  // GRPO's defaults where the command gives none: no MTP loss, balance loss or bias update
  // (the padded rows of sampled outputs would count), one micro-batch of --prompts-per-step.
  void adjust(TrainOptions& opt) const;
  void attach(Trainer& trainer, const std::string& init_dir);

 private:
  const Args& a_;
  ModelConfig cfg_;
  std::string tok_dir_;
  bool rl_ = false;
  DistillOptions distill_;
  std::unique_ptr<Tokenizer> tok_;
  struct Grpo;
  std::shared_ptr<Grpo> grpo_;
};

inline const std::set<std::string> kPostTrainOptions = {
    "teacher", "distill-alpha", "distill-temperature", "distill-top-k",
    "rl", "prompts", "prompts-per-step", "group", "grpo-clip", "kl-beta", "temperature", "max-new-tokens", "answer",
    "format-reward", "prompt-start", "reward-command", "reward-timeout", "reward-weight"};

inline constexpr const char* kPostTrainUsage =
    "  distill:   --teacher DIR  --distill-alpha 0.5  --distill-temperature 2  --distill-top-k 32 (0: all)\n"
    "  GRPO:      --rl grpo --init DIR --prompts FILE.jsonl (eval's generation lines)  --prompts-per-step 8\n"
    "             --group 8  --grpo-clip 0.2  --kl-beta 0.04  --temperature 1  --max-new-tokens 32\n"
    "             --answer RULE (eval's: last_number|boxed|exact|regex:P)  --format-reward W  --chat\n"
    "             --prompt-start bos|eos|none\n"
    "             --reward-command CMD (JSON on stdin, prints the reward)  --reward-timeout 10 (s)  --reward-weight 1\n";

}  // namespace dsv3::cli
