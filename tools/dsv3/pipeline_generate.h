// generate | serve --pp P: pipeline-parallel inference under `mpirun -np P` (docs/pipeline.md):
// rank r runs the decoder layers of stage r (pipeline/infer_stages.h). Rank 0 runs the command
// (batcher, sampling, MTP, output); its observer sends each main-model call to the other ranks,
// which follow them (expert_parallel_serve.h's step messages) until rank 0 stops them.
#pragma once
#include <memory>
#include <set>
#include <string>

#include "cli_args.h"
#include "dist/world.h"
#include "expert_parallel_serve.h"
#include "model/model.h"
#include "pipeline/infer_stages.h"

namespace dsv3::cli {

class PipelineGenerateRun {
 public:
  // Without --pp: nothing. With it: checks on every rank, before any work, that --pp equals the
  // job's ranks, that every rank was given the same --pp, --stage-layers and checkpoint, and
  // that the layout gives every stage a layer; then gives the model its stage.
  PipelineGenerateRun(const Args& a, Model& model, const std::string& model_dir);
  ~PipelineGenerateRun();

  bool active() const { return stages_ != nullptr; }
  // Ranks 1..P-1: they run follow() instead of the command.
  bool follower() const { return active() && dist::world().rank() != 0; }
  // Rank 0's batcher observer (null without --pp).
  ForwardObserver* observer() { return steps_.get(); }
  // --in-flight G: rank 0's batcher keeps G steps in flight (BatcherOptions::in_flight).
  int64_t in_flight() const { return in_flight_; }
  // Ranks 1..P-1: runs rank 0's main-model calls until stop().
  void follow() const;
  // Rank 0, once no step is in flight: ends the followers' loops.
  void stop();

 private:
  // The main model's calls go to the other stages. MTP calls run on rank 0 alone, or with --ep
  // on stage 0's E ranks, which hold the MTP module's routed experts (the other stages skip them).
  class MainCalls final : public ForwardObserver {
   public:
    MainCalls(dist::Communicator& world, int64_t hidden, bool send_mtp) : steps(world, hidden), send_mtp_(send_mtp) {}
    void before_forward(const TokenBatch& batch, const std::vector<int64_t>& ids, const std::vector<int64_t>& live,
                        const float* mtp_prev) override {
      if (!mtp_prev || send_mtp_) steps.before_forward(batch, ids, live, mtp_prev);
    }
    StepBroadcaster steps;

   private:
    bool send_mtp_;
  };
  std::unique_ptr<MainCalls> steps_;
  std::unique_ptr<dist::Groups> groups_;
  std::unique_ptr<pipeline::InferenceStages> stages_;
  Model* model_ = nullptr;
  int64_t in_flight_ = 1;  // --in-flight, default P
};

inline const std::set<std::string> kPipelineGenerateOptions = {"pp", "stage-layers", "micro-batches", "in-flight"};

inline constexpr const char* kPipelineGenerateUsage =
    "  --pp P       under `mpirun -np P`: each rank runs one stage of the decoder layers\n"
    "  --stage-layers A,B,...  the layers of each stage (default: balanced by forward FLOPs)\n"
    "  --micro-batches M  each step's sequences go down the stages in M groups, so that the stages\n"
    "               work at once (default 1)\n"
    "  --in-flight G  rank 0 keeps G steps in flight, each over 1/G of the sequences, so that the\n"
    "               stages run different sequences' steps at once (default P; 1: one at a time)\n";

}  // namespace dsv3::cli
