// Data-parallel training (`mpirun -np D dsv3 train --dp D`, docs/distributed.md): what the
// trainer adds to a step when its micro-batches are split over the D ranks of a data group.
//
// The step's A micro-batches (A from --batch-tokens, or D when it is not given) are drawn by
// every rank from the same sampler; rank r reads and runs only [r·A/D, (r+1)·A/D). Gradients go
// through ZeRO-1 (train/zero.h); the loss denominators, the logged losses and the router's
// per-expert loads are combined exactly (integer sums; doubles added in micro-batch order), so
// the routing-bias update, the losses and — when D and A/D are powers of two — the weights equal
// the single-process run's bit for bit.
//
// Parameters: a rank holds the replicated tensors and only its own routed experts (a share of the
// model: ParamLayout(cfg, experts)); the replicated part goes through ZeRO-1 over the data group,
// the experts' part over the D/E ranks that hold the same experts (train/zero.h).
//
// Checkpoints: each rank writes its slices of the master weights and AdamW moments to
//   <out>/trainer_state.step-S.rank-R-of-D.safetensors
// and once all are complete rank 0 commits <out>/trainer_state.dp.json {"step": S, "dp": D,
// "ep": E} (atomically), which alone decides a resume; then each rank deletes its older files.
// Rank 0 writes the exported model, receiving the experts it does not hold from their owners.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "dist/comm.h"
#include "dist/world.h"
#include "train/model_train.h"
#include "train/params.h"

namespace dsv3 {

struct TrainOptions;

// Throws on every rank unless the step's micro-batches split evenly over dp ranks.
void check_data_parallel_batch(const TrainOptions& opt, int64_t T);

// The step's loss denominators over every rank's micro-batches (collective).
void all_reduce(LossNorm& norm, dist::Communicator& data);

// The step's losses from this rank's micro-batches' (in order): counts and expert loads summed
// over ranks, the losses added in global micro-batch order as one process adds them. data may be
// null (one process). Collective.
StepLosses sum_step_losses(const std::vector<StepLosses>& mine, dist::Communicator* data);

// Sharded checkpoint files (see above).
std::string dp_commit_path(const std::string& out);
std::string dp_state_path(const std::string& out, int64_t step, int rank, int ranks);
// The committed {step, dp} of out, or step -1 when there is none.
struct DpCommit {
  int64_t step = -1;
  int dp = 0, ep = 1;
};
DpCommit read_dp_commit(const std::string& out);
void write_dp_commit(const std::string& out, int64_t step, int dp, int ep);
// Removes this rank's state files of steps other than `keep`.
void remove_old_dp_states(const std::string& out, int64_t keep, int rank, int ranks);

// The exported model of a job whose ranks hold shares (`share`, over `params`): data rank 0
// writes it, receiving each routed expert it does not hold from its owner in its expert group,
// one tensor at a time in checkpoint order, so that it never holds more than one other expert
// tensor. Collective over the expert group of data rank 0 (expert_group: this rank's; the ranks
// of the other expert groups return at once).
void export_sharded(const std::string& out, const ParamLayout& share, const float* params, const float* biases,
                    DType dtype, dist::Communicator& data_group, dist::Communicator& expert_group);

}  // namespace dsv3

namespace dsv3 {

// `train --dp D [--ep E]`: opens the world when run under mpirun or with dp > 1 and splits it
// into data (and expert) groups, after checking on every rank, before any work, that the layout
// fits the job and that every rank was given the same `settings` (a hash of the command's
// options, config and data). Null: one process.
std::unique_ptr<dist::Groups> open_train_groups(int dp, int ep, uint64_t settings);

}  // namespace dsv3
