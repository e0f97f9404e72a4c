// train --pp P --schedule S: pipeline-parallel training under `mpirun -np P` (docs/pipeline.md).
// Every rank runs the command; the executor (src/pipeline/executor.h) runs the schedule's
// operations of its rank, and rank 0 alone logs, evaluates and saves.
#pragma once
#include <memory>
#include <set>
#include <string>

#include "cli_args.h"
#include "dist/world.h"
#include "pipeline/executor.h"
#include "pipeline/stage_params.h"
#include "train/trainer.h"

namespace dsv3::cli {

class PipelineTrainRun {
 public:
  // Sets opt's accumulation from --micro-batches (with or without --pp). With --pp, opens the
  // job and checks, on every rank and before any data is read, that the ranks, the schedule,
  // the micro-batch count and the stage layout fit (one error line from rank 0 otherwise).
  PipelineTrainRun(const Args& a, const ModelConfig& cfg, TrainOptions& opt, int64_t seq_len);
  ~PipelineTrainRun();

  bool active() const { return exec_ != nullptr; }
  // This rank's share of the model's tensors (its stages'); null without --pp.
  ParamShare* share() { return params_.get(); }
  bool output_rank() const { return !active() || (groups_->pipeline->rank() == 0 && groups_->dp_rank == 0); }
  // With --dp: this rank's data-parallel group (the ranks of its stage); else null.
  dist::Communicator* data_group() { return groups_ && groups_->layout.dp > 1 ? groups_->data.get() : nullptr; }
  // With --dp: this rank's expert group (its stage's ranks in E pipelines; one rank without
  // --ep); else null.
  dist::Communicator* expert_group() { return data_group() ? groups_->expert.get() : nullptr; }
  // Hands the trainer's micro-batches to the executor.
  void attach(Trainer& trainer);
  // Collective: rank 0 prints each rank's parameter memory; with --trace FILE it writes the last
  // step's measured operations there and prints each rank's bubble fraction.
  void finish(const Trainer& trainer);

 private:
  void print_memory(const Trainer& trainer);
  void print_overlap();
  std::unique_ptr<dist::Groups> groups_;
  std::unique_ptr<pipeline::StageParams> params_;
  std::unique_ptr<pipeline::PipelineExecutor> exec_;
  std::string trace_path_;
  bool measure_overlap_ = false;
};

inline const std::set<std::string> kPipelineTrainOptions = {"pp", "schedule", "micro-batches", "stage-layers", "trace"};

inline constexpr const char* kPipelineTrainUsage =
    "  pipeline:  --micro-batches M (per step; sets --batch-tokens)  under `mpirun -np P`: --pp P\n"
    "             (under `mpirun -np P*D`: --pp P --dp D [--ep E], D pipelines with ZeRO-1 per stage,\n"
    "             each stage's routed experts split over E of them)\n"
    "             --schedule 1f1b|zb1p|dualpipe|dualpipev  --stage-layers A,B,...  --trace FILE\n";

}  // namespace dsv3::cli
