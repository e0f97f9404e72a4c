// --ep N: a command's model runs with its routed experts spread over the N ranks of an mpirun
// job (docs/distributed.md). Every rank runs the command; rank 0 alone prints and writes files.
#pragma once
#include <memory>
#include <string>

#include "cli_args.h"
#include "dist/expert_parallel.h"
#include "dist/world.h"
#include "model/model.h"

namespace dsv3::cli {

class ExpertParallelRun {
 public:
  // Without --ep, --profile and mpirun: nothing. Otherwise checks (on every rank, before any
  // work) that --ep equals the job's ranks and divides the routed experts, and that every rank
  // was given the same config and checkpoint; then attaches the experts' placement to model.
  ExpertParallelRun(const Args& a, Model& model, const std::string& model_dir);
  ~ExpertParallelRun();

  bool active() const { return moe_ != nullptr; }
  dist::ExpertParallelMoe* moe() const { return moe_.get(); }  // null when not active
  // Whether this rank writes the command's output (rank 0, or the only process).
  bool output_rank() const { return !active() || dist::world().rank() == 0; }
  // Collective: rank 0 prints each rank's experts and resident memory, and the bytes
  // dispatched per token and MoE layer, to stderr.
  void print_stats(const Model& model) const;
  // Collective: with --profile FILE, rank 0 writes every rank's timeline there.
  void write_profile() const;

 private:
  std::unique_ptr<dist::Groups> groups_;
  std::unique_ptr<dist::ExpertParallelMoe> moe_;
  std::unique_ptr<dist::Timeline> timeline_;
  std::string profile_path_;
  Model* model_ = nullptr;
};

// The help line of --ep.
inline constexpr const char* kEpUsage =
    "  --ep N       under `mpirun -np N`: each rank holds 1/N of every MoE layer's routed experts\n"
    "  --profile F  write each rank's timeline of the MoE layers to F (Chrome trace-event JSON)\n";

}  // namespace dsv3::cli
