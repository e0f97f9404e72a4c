// The parameters a pipeline rank holds: only its stages' tensors. Stage s holds decoder layers
// [first, end); the stage that starts a micro-batch's path also the embedding; the stage that
// ends it the final norm, the output head and the MTP modules, and the embedding too when the MTP
// modules or a tied head read it. A tensor lives on every rank that runs a stage using it: under
// DualPipe ranks r and P-1-r hold the same two stages, so each tensor is on two ranks; under
// 1F1B, ZB1P and DualPipeV on one, except the embedding when its two users sit on two ranks.
//
// The ranks holding a tensor each add their micro-batches' gradients, then exchange them and
// add the terms in rank order (with two holders: the sum an all-reduce over every rank gives,
// since the others' terms were exact zeros), and apply the same AdamW update. Checkpoints hold
// each rank's tensors and moments in its own file; the Hugging Face export is assembled by
// rank 0, one tensor at a time, into the files one process writes. With --ep each rank holds its
// expert group share of its stages' routed experts (rank_experts, train/trainer.h), and its files
// hold that share.
#pragma once
#include <string>
#include <vector>

#include "dist/comm.h"
#include "pipeline/schedule.h"
#include "pipeline/stages.h"
#include "train/param_share.h"

namespace dsv3::pipeline {

// The stages along a micro-batch's path (0 .. ranges.size()-1) that read a trained tensor
// (HF name); Error for a name no stage knows.
std::vector<int> stages_using(const std::string& name, const ModelConfig& cfg, const std::vector<StageRange>& ranges);

// [tensor index of ParamLayout(cfg)] the ranks holding it, ascending.
std::vector<std::vector<int>> tensor_holders(const ModelConfig& cfg, const Schedule& s,
                                             const std::vector<int>& stage_layers);

class StageParams final : public ParamShare {
 public:
  // comm: the pipeline group (s.ranks ranks); data: the data-parallel ranks of this stage (each
  // holds ZeRO-1 slices of its moments), null without data parallelism; experts: the routed
  // experts this rank holds of its stages' (rank_experts, train/trainer.h).
  StageParams(const ModelConfig& cfg, const Schedule& s, const std::vector<int>& stage_layers,
              dist::Communicator& comm, dist::Communicator* data = nullptr,
              ExpertShare experts = ExpertShare::all());

  const ParamLayout& layout() const override { return mine_; }
  json describe() const override { return describe_; }
  bool counts(const ParamTensor& t) const override { return holders_[size_t(t.index)][0] == comm_.rank(); }
  dist::Communicator& group() override { return comm_; }
  void save(const std::string& out, const float* params, const float* biases, const std::vector<StatePart>& parts,
            const TrainState& st, DType export_dtype) override;
  bool resume(const std::string& out, float* params, float* biases, const std::vector<StatePart>& parts,
              TrainState& st) override;

  // Collective: grads [layout().n_params()], this rank's sum over its chunks, becomes the sum over
  // the ranks holding each tensor, exchanged in pieces of at most `piece` values (MPI counts
  // are ints; a small piece in tests exercises the split).
  void sum_grads(float* grads, int64_t piece = kSumPiece);
  static constexpr int64_t kSumPiece = int64_t(1) << 28;

 private:
  void export_whole(const std::string& dir, const float* params, const float* biases, DType dtype);
  std::pair<int, int> export_source(const ParamTensor& p) const;  // pipeline rank, data rank
  int expert_ranks() const { return experts_per_rank_ > 0 ? int(cfg_.n_routed_experts / experts_per_rank_) : 1; }
  std::string state_path(const std::string& out, int64_t step) const;
  void barrier();  // over every rank of the job

  ModelConfig cfg_;
  std::vector<std::vector<int>> holders_;
  dist::Communicator& comm_;
  dist::Communicator* data_;
  ParamLayout whole_, mine_;
  int64_t experts_per_rank_ = 0;  // with --ep: the routed experts of a rank (of each MoE layer)
  json describe_;
};

// Checkpoint files of a pipeline run: <out>/trainer_state.pp.json {"step", "pp", "pipeline"}
// commits a step once every rank's <out>/trainer_state.step-S.pp-rank-R-of-P.safetensors (with
// data parallelism ...pp-rank-R-of-P.dp-rank-D-of-N.safetensors, its ZeRO-1 slice) is complete.
std::string pp_commit_path(const std::string& out);

}  // namespace dsv3::pipeline
