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
// The trained tensor (or bias) an exported tensor's values come from: itself, or for the MTP
// modules' copies the shared embedding or head.
std::string export_source(const ModelConfig& cfg, const TensorSpec& t);
// The same files, each tensor's float32 values asked of `values` by its source name (e.g.
// assembled from the processes that hold them); the pointer must stay valid until the next call.
void export_model(const std::string& dir, const ModelConfig& cfg, DType dtype,
                  const std::function<const float*(const std::string& source, TensorRole role)>& values);

// The params and moments of adam.range() (all of them, or a data-parallel rank's slice).
void save_trainer_state(const std::string& path, const ParamLayout& layout, const float* params,
                        const float* biases, const AdamW& adam, const TrainState& st);

// Reads a trainer state into params/biases/adam/st; throws Error naming the file on any mismatch.
void load_trainer_state(const std::string& path, const ParamLayout& layout, float* params, float* biases,
                        AdamW& adam, TrainState& st);

}  // namespace dsv3
