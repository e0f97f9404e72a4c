// The pipeline executor: runs one rank's operation list of any schedule (schedule.h) on the
// model. Each rank computes only its stages' layers — the embedding on the stage that starts a
// micro-batch's path, the final norm, output head, MTP modules and loss on the stage that ends
// it, two stages per rank under DualPipe and DualPipeV — sends activations forward and input
// gradients backward through the Communicator, and splits a backward into B (input gradients)
// and W (weight gradients, train/weight_grad.h) where the schedule asks for it.
//
// Every rank holds only its stages' tensors (stage_params.h). Each micro-batch's gradient has
// its own buffer, added to the trainer's pairwise sum in micro-batch order once the rank has
// finished every chunk of it (train/grad_sum.h: the grouping one process uses); the step's sum
// is then summed over the ranks holding each tensor (DualPipe's two copies of a stage, the
// embedding shared by the first stage and the MTP modules). The losses of each micro-batch are
// gathered over the ranks, so they are one process's to the bit.
//
// Expert parallelism (--ep E): the stage's MoE layers run through train/moe_parallel.h over the
// expert group (this stage's ranks in E pipelines, which run the same operation list, so their
// all-to-alls pair up), each chunk naming its micro-batch; the local experts' weight gradients
// join the step's gradient before the sum over the ranks holding each tensor. An F&B pair's two
// chunks then interleave at their all-to-alls (interleave.h), so one chunk's dispatch and
// combine are in flight while the other computes.
//
// Communication: a batch of the schedule posts its sends and receives and returns; a chunk waits
// only for the values it reads, just before it starts (dualpipe.py waits on the whole batch), so
// a transfer runs while the rank computes whatever comes before that chunk, and a send never
// waits for its peer to arrive. Sends complete by the end of the step.
#pragma once
#include <chrono>
#include <map>
#include <tuple>
#include <vector>

#include "dist/comm.h"
#include "pipeline/interleave.h"
#include "pipeline/simulate.h"
#include "pipeline/stage_params.h"
#include "pipeline/stages.h"
#include "train/grad_sum.h"
#include "train/model_train.h"
#include "train/moe_parallel.h"
#include "train/weight_grad.h"

namespace dsv3::pipeline {

class PipelineExecutor {
 public:
  // s.ranks must equal comm.size(); stage_layers has s.stages entries summing to the model's
  // layers; params: this rank's tensors (the gradient buffers are in params.layout()); experts:
  // the expert group of this rank's stages (null or one rank: every expert local).
  PipelineExecutor(Schedule s, const std::vector<int>& stage_layers, dist::Communicator& comm, const ModelConfig& cfg,
                   Precision p, StageParams& params, dist::Communicator* experts = nullptr);

  // One training step over s.micro_batches micro-batches (micro-batch m of direction d is
  // batches[d·M/2 + m] under DualPipe), with the weights w viewing the buffer at `base`. Leaves
  // one term in grads: the step's gradient, summed over the ranks; returns each micro-batch's
  // losses, the same on every rank. Collective over comm.
  std::vector<StepLosses> step(const std::vector<TokenRows>& batches, const ModelWeights& w, const Objective& obj,
                               const LossNorm& norm, const float* base, PairwiseSum& grads);
  // The forward of each batch along direction 0's stages, one batch after another (any count):
  // each batch's losses, the same on every rank. Collective.
  std::vector<StepLosses> evaluate(const std::vector<TokenRows>& batches, const ModelWeights& w, const Objective& obj,
                                   const LossNorm& norm);

  // Collective: the last step's measured operations of every rank (seconds from the step's
  // start), as the simulator's Timeline, so trace_json() writes the real run.
  Timeline gather_timeline();

  const Schedule& schedule() const { return s_; }

  // With --ep: the time this rank's F&B pairs waited for their all-to-alls, with the pair's
  // chunks interleaved ([1]) and run one after the other ([0]), and the pairs run each way.
  // measure_overlap(true) alternates the steps between the two (the same bits either way).
  struct OverlapTimes {
    double wait_s[2] = {0, 0};
    int64_t pairs[2] = {0, 0};
  };
  void measure_overlap(bool on) { alternate_ = on; }
  const OverlapTimes& overlap_times() const { return overlap_; }

 private:
  // Collective: the step's time zero, common to the ranks of one host.
  std::chrono::steady_clock::time_point common_start();

  using ChunkKey = std::tuple<int, int, int>;            // dir, micro-batch, stage
  using ValueKey = std::tuple<int, int, int, int>;       // Value, dir, micro-batch, stage
  struct ChunkState {
    TrainActs acts;             // from F to B
    DeferredWeightGrads wgrad;  // from B to W
  };
  struct StepInput {
    const std::vector<TokenRows>* batches;
    const ModelWeights* w;
    const Objective* obj;
    const LossNorm* norm;
    const float* base;
    PairwiseSum* grads;
    float balance_coef;
  };

  void run_op(const Op& op);
  void communicate(const std::vector<Message>& batch);
  void await_value(Value v, const Chunk& of);  // its receive, if still in flight
  void await_inputs(const Op& op);
  void finish_sends();
  void abandon_in_flight();
  void run_pair(const Op& op);
  void forward(const Chunk& c);
  void backward(const Chunk& c, bool split_w);
  void weight(const Chunk& c);
  int micro_batch(const Chunk& c) const { return c.dir * s_.micro_batches_per_dir() + c.mb; }
  std::vector<float> take(Value v, const Chunk& of);
  GradSink sink(const Chunk& c);       // into the chunk's micro-batch's gradient buffer
  void chunk_done(const Chunk& c);     // its gradient is complete on this rank
  std::vector<StepLosses> sum_losses(const ModelWeights& w, double lambda_mtp);

  Schedule s_;
  std::vector<StageRange> ranges_;
  dist::Communicator& comm_;
  ModelConfig cfg_;
  TrainModel model_;
  std::unique_ptr<ExpertParallelTraining> ep_;  // with --ep: the MoE layers' runner
  Interleave pair_;
  bool alternate_ = false;
  int64_t steps_ = 0;
  OverlapTimes overlap_;
  StageParams& params_;
  int rank_;
  StepInput in_{};
  std::map<ChunkKey, ChunkState> chunks_;
  std::map<ValueKey, std::vector<float>> values_;  // activations and input gradients on this rank
  std::map<ValueKey, std::unique_ptr<dist::Request>> receiving_;  // into values_, in flight
  struct Sending {
    std::unique_ptr<dist::Request> req;
    std::vector<float> data;
  };
  std::vector<Sending> sending_;                   // posted sends, completed at the step's end
  std::vector<MicroLosses> losses_;                // [micro-batch] this rank's share
  std::vector<int> chunks_per_mb_, chunks_left_;   // [micro-batch] this rank's chunks of it
  std::map<int, std::vector<float>> mb_grads_;     // micro-batch -> its gradient on this rank
  int next_mb_ = 0;                                // the next to add to the pairwise sum
  std::vector<Span> spans_;                        // the last step's operations
};

}  // namespace dsv3::pipeline
