#include "posttrain_args.h"

#include <filesystem>

#include "core/error.h"
#include "posttrain/command_reward.h"
#include "posttrain/grpo_step.h"
#include "train/distill.h"

namespace fs = std::filesystem;

namespace dsv3::cli {

struct PostTraining::Grpo {
  std::vector<eval::GenItem> items;
  std::vector<posttrain::WeightedReward> rewards;
  posttrain::GrpoRunOptions opt;
};

namespace {

double in_range(const Args& a, const std::string& name, double fallback, double lo, double hi) {
  const double v = a.number(name, fallback);
  if (!(v >= lo && v <= hi)) fail("option --", name, " must be in [", lo, ", ", hi, "]");
  return v;
}

}  // namespace

PostTraining::PostTraining(const Args& a, const ModelConfig& cfg, const std::string& tokenizer_dir)
    : a_(a), cfg_(cfg), tok_dir_(tokenizer_dir), rl_(a.has("rl")) {
  if (rl_ && a.str("rl") != "grpo") fail("--rl ", a.str("rl"), ": the one algorithm is grpo");
  if (rl_ && a.has("teacher")) fail("give --teacher or --rl grpo, not both");
  distill_.alpha = in_range(a, "distill-alpha", 0.5, 0.0, 1.0);
  distill_.temperature = in_range(a, "distill-temperature", 2.0, 1e-3, 100.0);
  distill_.top_k = a.integer("distill-top-k", 32);
  if (distill_.top_k < 0) fail("option --distill-top-k must be >= 0");
  if (!rl_) return;
  if (!a.has("init")) fail("--rl grpo starts from a trained model: give --init DIR (it is also the KL reference)");
  if (a.has("data")) fail("--rl grpo reads --prompts FILE, not --data");
  tok_ = std::make_unique<Tokenizer>(Tokenizer::load(tokenizer_dir));
  grpo_ = std::make_shared<Grpo>();
  grpo_->items = eval::read_gen_task(a.required("prompts"));
  posttrain::GrpoRunOptions& o = grpo_->opt;
  o.grpo.group = a.integer("group", 8);
  if (o.grpo.group < 2) fail("option --group must be >= 2");
  o.grpo.clip = in_range(a, "grpo-clip", 0.2, 0.0, 1.0);
  o.grpo.beta = in_range(a, "kl-beta", 0.04, 0.0, 1e6);
  o.gen.sampling.temperature = float(in_range(a, "temperature", 1.0, 1e-3, 100.0));
  o.gen.max_new_tokens = a.integer("max-new-tokens", 32);
  if (o.gen.max_new_tokens < 1) fail("option --max-new-tokens must be >= 1");
  o.gen.chat = a.has("chat");
  o.gen.max_sequences = 256;  // every sample of a step decodes in the same batched steps
  o.gen.start = eval::parse_prompt_start(a.str("prompt-start", "bos"));
  o.seed = uint64_t(a.integer("data-seed", 1));
  // A --reward-command replaces the answer reward unless --answer asks for both.
  if (a.has("answer") || !a.has("reward-command"))
    grpo_->rewards.push_back({std::make_shared<posttrain::AnswerReward>(a.str("answer", "last_number")), 1.0});
  if (a.has("reward-command")) {
    if (a.str("reward-command").empty()) fail("option --reward-command needs a command");
    const double timeout = in_range(a, "reward-timeout", 10.0, 1e-3, 86400.0);
    grpo_->rewards.push_back(
        {std::make_shared<posttrain::CommandReward>(a.str("reward-command"), timeout), a.number("reward-weight", 1.0)});
  } else if (a.has("reward-timeout") || a.has("reward-weight")) {
    fail("--reward-timeout and --reward-weight go with --reward-command");
  }
  if (a.has("format-reward"))
    grpo_->rewards.push_back({std::make_shared<posttrain::ThinkFormatReward>(), a.number("format-reward", 0.0)});
}

PostTraining::~PostTraining() = default;

Dataset PostTraining::dataset() const { return posttrain::prompt_dataset(grpo_->items, *tok_, grpo_->opt.gen); }

void PostTraining::adjust(TrainOptions& opt) const {
  if (!rl_) return;
  if (!a_.has("lambda-mtp")) opt.lambda_mtp = {0.0, 0.0, -1};
  if (!a_.has("alpha")) opt.alpha = 0.0;
  if (!a_.has("bias-update-speed")) opt.gamma = {0.0, 0.0, -1};
  if (a_.has("batch-tokens") || a_.has("micro-batch")) fail("--rl grpo sets its batch with --prompts-per-step");
  opt.micro_batch = a_.integer("prompts-per-step", 8);
  if (opt.micro_batch < 1) fail("option --prompts-per-step must be >= 1");
  opt.batch_tokens = 0;
  grpo_->opt.precision = opt.precision;
}

void PostTraining::attach(Trainer& trainer, const std::string& init_dir) {
  if (a_.has("teacher")) {
    Distiller d;
    d.teacher = std::make_shared<FrozenModel>(a_.str("teacher"), cfg_.vocab_size);
    const std::string tt = a_.str("teacher") + "/tokenizer.json", st = tok_dir_ + "/tokenizer.json";
    if (fs::exists(tt) && fs::exists(st) && eval::read_task_text(tt) != eval::read_task_text(st))
      fail("--teacher ", a_.str("teacher"), ": its tokenizer.json differs from ", st,
           " (distillation needs the student's tokenizer)");
    d.opt = distill_;
    trainer.set_step_hook(d);
    return;
  }
  if (!rl_) return;
  auto step = std::make_shared<posttrain::GrpoStep>(cfg_, *tok_, grpo_->items, grpo_->rewards, init_dir, grpo_->opt);
  trainer.set_step_hook([step](int64_t s, const ModelWeights& w, std::vector<TokenRows>& b,
                               std::vector<std::unique_ptr<HeadObjective>>& h) { return (*step)(s, w, b, h); });
}

}  // namespace dsv3::cli
