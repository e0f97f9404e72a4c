// What a training run leaves in its folder:
//   config.json, model.safetensors   the model in the Hugging Face layout (HF tensor names; the
//                                    MTP layer at index num_hidden_layers with its copies of the
//                                    embedding and head; e_score_correction_bias in F32), which
//                                    `dsv3 generate` and HF-compatible tools load;
//   trainer_state.safetensors        everything a resume needs in ONE file: float32 master weights,
//                                    routing biases, AdamW moments, and in its metadata the step,
//                                    data position (epoch, cursor), seed and run options.
// Every file is written to a temp file, fsynced and renamed, so a kill at any moment leaves
// the previous complete state; the trainer state is written first and alone decides a resume.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/json_file.h"
#include "model/tensor_table.h"
#include "train/optimizer.h"
#include "train/params.h"

namespace dsv3 {

struct TrainState {
  int64_t step = 0;                 // optimizer steps done
  int64_t tokens = 0;               // training tokens consumed
  int64_t epoch = 0, cursor = 0;    // data position (SequenceSampler)
  double elapsed_s = 0;             // training time so far
  json options;                     // the run's options, to check a resume against
};

// The model in the HF layout: config.json + model.safetensors (matrices as `dtype`: F32 or BF16).
void export_model(const std::string& dir, const ParamLayout& layout, const float* params, const float* biases,
                  DType dtype);
// The same, taking each trained tensor of the whole model (layout) from `tensor`, in checkpoint
// order: a data-parallel job's rank 0 receives the routed experts it does not hold from their
// owners (train/data_parallel.h). The pointer needs to live until the next call only.
// A pipeline's rank 0 receives the other stages' tensors from their holders
// (pipeline/stage_params.h).
using TensorSource = std::function<const float*(const ParamTensor&)>;
void export_model(const std::string& dir, const ParamLayout& layout, const TensorSource& tensor, const float* biases,
                  DType dtype);
// The trained tensor (or bias) an exported tensor's values come from, in export_model's order:
// itself, or for the MTP modules' copies the shared embedding or head.
std::string export_source(const ModelConfig& cfg, const TensorSpec& t);

// A part of the master weights with its AdamW moments (adam.range()), saved as the tensors
// <prefix>params, <prefix>adam_m, <prefix>adam_v: one process saves the whole model with prefix
// ""; a data-parallel rank its ZeRO-1 slice of the replicated tensors ("") and of its routed
// experts ("expert_").
struct StatePart {
  std::string prefix;
  AdamW* adam = nullptr;
};

void save_trainer_state(const std::string& path, const ParamLayout& layout, const float* params,
                        const float* biases, const std::vector<StatePart>& parts, const TrainState& st);

// Reads a trainer state into params/biases/parts/st; throws Error naming the file on any mismatch.
void load_trainer_state(const std::string& path, const ParamLayout& layout, float* params, float* biases,
                        const std::vector<StatePart>& parts, TrainState& st);

}  // namespace dsv3
