// generate --pp P: pipeline-parallel inference under `mpirun -np P` (docs/pipeline.md): rank r
// runs the decoder layers of stage r (pipeline/infer_stages.h); every rank samples the same
// tokens, rank 0 alone prints.
#pragma once
#include <memory>
#include <set>
#include <string>

#include "cli_args.h"
#include "dist/world.h"
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

 private:
  std::unique_ptr<dist::Groups> groups_;
  std::unique_ptr<pipeline::InferenceStages> stages_;
  Model* model_ = nullptr;
};

inline const std::set<std::string> kPipelineGenerateOptions = {"pp", "stage-layers"};

inline constexpr const char* kPipelineGenerateUsage =
    "  --pp P       under `mpirun -np P`: each rank runs one stage of the decoder layers\n"
    "  --stage-layers A,B,...  the layers of each stage (default: balanced by forward FLOPs)\n";

}  // namespace dsv3::cli
