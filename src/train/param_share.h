// Training where each process holds only part of the model's trained tensors: a pipeline rank
// keeps its stages' (src/pipeline/stage_params.h). The trainer then allocates its parameters,
// gradients and AdamW moments in the share's packed layout, and goes through this interface for
// what involves the other processes' tensors: the gradient norm, checkpoints and the export.
#pragma once
#include <string>
#include <vector>

#include "core/dtype.h"
#include "dist/comm.h"
#include "io/json_file.h"
#include "train/optimizer.h"
#include "train/params.h"
#include "train/train_state.h"

namespace dsv3 {

class ParamShare {
 public:
  virtual ~ParamShare() = default;

  // This process's trained tensors, packed (ParamLayout(cfg, experts, stages)); every routing bias.
  virtual const ParamLayout& layout() const = 0;
  // What a resume must agree with (kept with the run's options).
  virtual json describe() const = 0;
  // The gradient norm: whether this process counts t's chunks (a tensor held by several
  // processes is counted by one), and the group over which the counted chunks are summed.
  virtual bool counts(const ParamTensor& t) const = 0;
  virtual dist::Communicator& group() = 0;
  // Collective: every process writes its tensors and the moments of `parts`; once all are on
  // disk the step is committed; then one process writes the whole model in the Hugging Face
  // layout (export_model's files, identical to a single process's).
  virtual void save(const std::string& out, const float* params, const float* biases,
                    const std::vector<StatePart>& parts, const TrainState& st, DType export_dtype) = 0;
  // Collective: loads this process's part of the committed checkpoint of `out`; false when there
  // is none. A checkpoint of another layout is one error on every process.
  virtual bool resume(const std::string& out, float* params, float* biases, const std::vector<StatePart>& parts,
                      TrainState& st) = 0;
};

}  // namespace dsv3
