// The trained tensors of a model: one flat float32 buffer (the master weights) in which every
// tensor has a Hugging Face name, a shape and an offset. The same layout serves the gradients
// and the optimizer moments, so "the gradient of q_a_proj" is the same offset in another buffer.
//
// e_score_correction_bias is not trained by gradient (the balancing rule moves it), so it lives
// in a second, small buffer with its own offsets.
//
// A rank of a parallel job holds a share of the model (ParamLayout(cfg, experts, stages)): under
// expert parallelism only its own routed experts, in a pipeline only its stages' tensors
// (pipeline/stage_params.h), both at once in a pipeline with data parallelism. The tensors it
// does not hold have no bytes on it.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/tensor_table.h"
#include "model/weights.h"
#include "kernels/precision.h"

namespace dsv3 {

class Checkpoint;

struct ParamTensor {
  std::string name;             // HF name, e.g. "model.layers.1.self_attn.q_a_proj.weight"
  std::vector<int64_t> shape;   // [rows, cols] or [size]
  int64_t offset = 0, size = 0; // in floats, within its buffer
  TensorRole role = TensorRole::kLinear;
  int64_t index = 0;            // position among the trained tensors of the whole model (checkpoint order)
  int64_t first_chunk = 0;      // its first gradient-norm chunk, numbered over the whole model (optimizer.h)
  int64_t expert = -1;          // the routed expert it belongs to (mlp.experts.<e>.*), -1 for the others
  bool decay() const { return role == TensorRole::kLinear || role == TensorRole::kHigh; }
  int64_t rows() const { return shape[0]; }
  int64_t cols() const { return shape.size() > 1 ? shape[1] : 1; }
};

// The gradient norm is summed over chunks of at most this many elements: each tensor cut from its
// start (optimizer.h), so that any split of the tensors over ranks gives the same chunks.
constexpr int64_t kGradNormChunk = 1 << 14;

// The routed experts [first, first + count) of every MoE layer (the MTP module's too).
// count < 0: every expert.
struct ExpertShare {
  int64_t first = 0, count = 0;
  static ExpertShare all() { return {0, -1}; }
  bool has(int64_t e) const { return count < 0 || (e >= first && e < first + count); }
};

// The trained tensors (by HF name) a pipeline rank's stages read; empty: every tensor.
using StageFilter = std::function<bool(const std::string&)>;

class ParamLayout {
 public:
  // The whole model, in checkpoint order.
  explicit ParamLayout(const ModelConfig& cfg);
  // A rank's share: of the tensors `stages` accepts, the replicated ones at [0, n_replicated())
  // in checkpoint order, then the routed experts of `experts` at [n_replicated(), n_params()), in
  // checkpoint order. Every routing bias is kept (they are small and every rank updates them).
  ParamLayout(const ModelConfig& cfg, ExpertShare experts, const StageFilter& stages = {});

  const ModelConfig& config() const { return cfg_; }
  const std::vector<ParamTensor>& params() const { return params_; }  // trained tensors
  const std::vector<ParamTensor>& biases() const { return biases_; }  // e_score_correction_bias
  int64_t n_params() const { return n_params_; }
  // Where a share's replicated tensors end and its experts begin (the whole model: n_params()).
  int64_t n_replicated() const { return n_replicated_; }
  int64_t n_bias() const { return n_bias_; }
  int64_t n_chunks() const { return n_chunks_; }  // gradient-norm chunks of the whole model
  // params or biases; nullptr for a tensor the config lacks or this share does not hold.
  const ParamTensor* find(const std::string& name) const;

  // Views of the model over a parameter buffer (master or compute copy) and a bias buffer; the
  // tensors a share does not hold stay unbound (no data).
  ModelWeights bind(const float* params, const float* biases) const;

 private:
  ModelConfig cfg_;
  std::vector<ParamTensor> params_, biases_;
  std::map<std::string, size_t> index_;  // name -> position (biases after params)
  int64_t n_params_ = 0, n_replicated_ = 0, n_bias_ = 0, n_chunks_ = 0;
};

// e of a tensor named "...mlp.experts.<e>....", else -1 (shared experts and the rest).
int64_t routed_expert_of(const std::string& name);

// Random initialisation: matrices N(0, std²) from a counter-based generator (the same values
// for any thread count), norms 1, biases 0.
void init_params(const ParamLayout& layout, uint64_t seed, double std, float* params, float* biases);

// Reads every trained tensor the layout holds (and the biases, zero when absent) of a checkpoint
// folder into the buffers, widening BF16/F16/FP8 to float32. Throws Error naming the file and
// tensor at fault.
void load_params(const ParamLayout& layout, const std::string& dir, float* params, float* biases);

// out = the weights the precision mode computes with: linear matrices rounded to BF16 or
// quantized to FP8 per 128×128 block, embedding/head/gate rounded to BF16 (not in float32
// mode), norms copied. out may equal params only in float32 mode (then it is a no-op).
void round_params(const ParamLayout& layout, const float* params, float* out, Precision p);

class DeferredWeightGrads;

// Where a view into one buffer lands in a parallel buffer of the same layout (gradients).
struct GradSink {
  const float* base = nullptr;  // the buffer the views point into
  float* grad = nullptr;        // the gradient buffer
  // When set, Linear weight gradients are queued there for a later W step (train/weight_grad.h).
  DeferredWeightGrads* defer = nullptr;
  float* of(const Weight& w) const {
    return grad + (static_cast<const float*>(w.data) - base) + w.row0 * w.cols;
  }
  float* of(const Vec& v) const { return grad + (v.data - base); }
};

}  // namespace dsv3
