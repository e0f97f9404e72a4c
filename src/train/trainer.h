// The training loop: micro-batches accumulated to a batch of tokens, AdamW with clipping and
// the learning-rate schedule, the routing-bias update after every step, evaluation on the
// held-out split, metrics, and checkpoints that a resumed run continues bit-identically.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dist/comm.h"
#include "train/data.h"
#include "train/grad_sum.h"
#include "train/loss.h"
#include "train/moe_parallel.h"
#include "train/optimizer.h"
#include "train/param_share.h"
#include "train/train_state.h"
#include "train/zero.h"

namespace dsv3 {

struct TrainOptions {
  int64_t steps = 100;
  int64_t micro_batch = 8;          // sequences per forward/backward
  int64_t batch_tokens = 0;         // tokens per optimizer step (0: one micro-batch)
  LrSchedule lr;
  AdamWOptions adam;
  double clip = 1.0;                // global gradient norm (<= 0: off)
  Switched lambda_mtp{0.3, 0.3, -1};
  double alpha = 1e-4;              // sequence-wise balance loss
  Switched gamma{0.001, 0.0, -1};   // bias update speed
  Precision precision = Precision::kF32;
  int64_t eval_every = 0;           // steps (0: only at the end)
  int64_t eval_sequences = 64;      // held-out sequences per evaluation (0: all)
  int64_t save_every = 0;           // steps (0: only at the end)
  int64_t log_every = 1;            // progress lines
  DType save_dtype = DType::F32;
  uint64_t data_seed = 1;
  bool measure_overlap = false;     // with expert parallelism: time the dispatch's overlap (moe_parallel.h)
  int dp = 1;                       // data-parallel ranks sharing each step (train/data_parallel.h)
  int64_t accumulation(int64_t T) const;  // micro-batches per step, over all dp ranks
  json to_json(int64_t T) const;          // what a resume must agree with
};

struct EvalResult {
  double main = 0, mtp = 0, perplexity = 0, main_acc = 0, mtp_acc = 0;
  int64_t sequences = 0, tokens = 0;
};

// Runs a step's micro-batches (forward and backward) and returns each one's losses, in order;
// each micro-batch's gradient goes into `grads` as one term, in micro-batch order, computed
// against the weights at `base`. The trainer's own loop does this on this process; a pipeline
// (src/pipeline/executor.h) spreads the micro-batches over its ranks and returns the same.
// grads null: forward only (the evaluation), collective like a step.
using MicroBatchRunner =
    std::function<std::vector<StepLosses>(const std::vector<TokenRows>&, const ModelWeights&, const Objective&,
                                          const LossNorm&, const float* base, PairwiseSum* grads)>;

// Post-training (train/distill.h, train/grpo.h): called at the start of each step with the
// weights the step computes with. It may replace the step's micro-batches (GRPO: the completions
// sampled for the chosen prompts) and gives each micro-batch's output head its objective
// (heads arrives sized like batches, all null: cross-entropy). Returns metrics for the step's
// line of metrics.jsonl (an object; may be empty).
using StepHook = std::function<json(int64_t step, const ModelWeights& w, std::vector<TokenRows>& batches,
                                    std::vector<std::unique_ptr<HeadObjective>>& heads)>;

// The routed experts a rank holds: all of them in one process, else its share in its expert
// group (under data parallelism, and a pipeline rank's stages with data parallelism).
ExpertShare rank_experts(const ModelConfig& cfg, int dp, const dist::Communicator* expert_group);

class Trainer {
 public:
  // The model starts as `init` (a checkpoint folder) or, when empty, random with (seed, std).
  // data_group: the opt.dp ranks of a data-parallel run (null for one process); expert_group:
  // the ranks among them that split the routed experts (one rank: no expert parallelism; needed
  // with data parallelism). A data-parallel rank holds the replicated tensors and only its own
  // routed experts. share: this process holds only share's tensors (a pipeline rank's stages,
  // of the experts rank_experts gives; null: the whole model or its data-parallel share).
  Trainer(const ModelConfig& cfg, const TrainOptions& opt, const Dataset& data, const std::string& out_dir,
          dist::Communicator* data_group = nullptr, dist::Communicator* expert_group = nullptr,
          ParamShare* share = nullptr);
  ~Trainer();

  // Replaces how micro-batches run. writes: whether this process logs, evaluates and saves (in a
  // job whose ranks all hold the same parameters, rank 0 alone does). Call before resume().
  void set_micro_batch_runner(MicroBatchRunner runner, bool writes);
  // One process only (not with --dp or a pipeline runner).
  void set_step_hook(StepHook hook);

  void init_random(uint64_t seed, double std);
  void init_from(const std::string& dir);
  // Continues from out_dir/trainer_state.safetensors when there is one; returns whether it did.
  bool resume();
  void run();
  EvalResult evaluate();

  int64_t step() const { return st_.step; }
  // Whether this process prints, logs metrics and writes the exported model (dp rank 0).
  bool main_rank() const { return writes_ && (!zero_ || data_group_->rank() == 0); }
  // This rank's bytes of AdamW moments, and of parameters (float32 master weights plus the
  // rounded copy the BF16/FP8 modes compute with).
  int64_t optimizer_bytes() const;
  int64_t parameter_bytes() const;
  // The tensors this rank holds: the whole model in one process, a share under data parallelism.
  const ParamLayout& layout() const { return layout_; }
  const std::vector<float>& params() const { return params_; }

 private:
  StepLosses train_step(double* grad_norm);
  std::vector<TokenRows> my_micro_batches();
  void reduce_and_update(double* grad_norm);
  bool resume_sharded();
  bool adopt(const TrainState& saved, const std::string& path);  // checks and takes a loaded state
  void save();
  void save_sharded();
  std::vector<StatePart> state_parts();
  double clip_gradient();  // the global norm over every rank's part, and the clip of this rank's
  void log_step(const StepLosses& l, double grad_norm, double lr, double seconds);
  void log_eval(const EvalResult& e);
  void report_overlap();

  ModelConfig cfg_;
  TrainOptions opt_;
  const Dataset& data_;
  std::string out_;
  ParamLayout layout_;
  std::vector<float> params_, biases_, compute_, grads_;
  PairwiseSum grad_sum_;            // of the step's micro-batch gradients
  std::unique_ptr<AdamW> adam_;     // one process
  dist::Communicator* data_group_ = nullptr;
  dist::Communicator* expert_group_ = nullptr;
  std::unique_ptr<dist::Communicator> expert_data_;  // the D/E ranks holding this rank's experts
  // Data parallel: the optimizer's slices and the exchanges of the replicated tensors (over the
  // data group) and of this rank's experts (over expert_data_).
  std::unique_ptr<Zero1> zero_, zero_experts_;
  std::unique_ptr<ExpertParallelTraining> ep_;  // expert parallel: the MoE layers' runner
  std::unique_ptr<TrainModel> model_;
  SequenceSampler sampler_;
  TrainState st_;
  double run_seconds_ = 0;  // this process's training time (for the ETA)
  int64_t run_steps_ = 0;
  MicroBatchRunner runner_;
  bool writes_ = true;
  ParamShare* share_ = nullptr;     // pipeline: this rank's stages' tensors only
  StepHook hook_;
  json hook_metrics_;  // the last step's, merged into its metrics line
};

}  // namespace dsv3
