// AdamW over the flat parameter buffer (float32 master weights), global-norm gradient clipping,
// and the learning-rate schedule of the DeepSeek-V3 report (§4.2): linear warm-up, constant,
// cosine decay, constant tail.
#pragma once
#include <cstdint>
#include <vector>

#include "train/params.h"

namespace dsv3 {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;   // decoupled; not on norms (nor the routing bias, which is no parameter)
  bool bf16_moments = false;   // store m and v in BF16, as the report does
};

// A parameter range [lo, hi) of the flat buffer: all of it, or one data-parallel rank's ZeRO-1
// shard (train/zero.h).
struct ParamRange {
  int64_t lo = 0, hi = 0;
  int64_t size() const { return hi - lo; }
};

class AdamW {
 public:
  // The moments cover `range` only (default: every parameter).
  AdamW(const ParamLayout& layout, const AdamWOptions& opt);
  AdamW(const ParamLayout& layout, const AdamWOptions& opt, ParamRange range);

  // params -= lr · (m̂ / (sqrt(v̂) + eps) + wd · params)   after the moment updates with grads,
  // for the elements of range() (params and grads are whole buffers).
  void step(float* params, const float* grads, double lr);
  const ParamRange& range() const { return range_; }
  int64_t state_bytes() const;  // of the two moments

  int64_t steps() const { return t_; }
  const AdamWOptions& options() const { return opt_; }
  // The moments as float32 (widened when stored in BF16), for saving; restore sets them back.
  std::vector<float> moment(int which) const;  // 0: m, 1: v
  void restore(const std::vector<float>& m, const std::vector<float>& v, int64_t steps);

 private:
  const ParamLayout& layout_;
  AdamWOptions opt_;
  ParamRange range_;
  int64_t t_ = 0;
  std::vector<float> m_, v_;          // float32 moments
  std::vector<uint16_t> mb_, vb_;     // BF16 moments
  std::vector<uint8_t> decay_;        // per element: weight decay applies
};

// The global gradient norm: each tensor's gradient cut into chunks of kGradNormChunk elements
// from its start (train/params.h), each chunk's Σ g² summed in element order in double, and the
// chunks' sums added in checkpoint order. A split of the parameters over ranks on chunk
// boundaries (ZeRO-1 slices, a rank's experts) gives the same chunks, so the same bits. The
// clip itself, in one process and over ranks alike, is clip_split_norm (train/zero.h); these are
// its pieces:
// partials [layout.n_chunks()]: the Σ g² of every chunk of grads[r.lo, r.hi) is stored at the
// chunk's number (r must start and end on chunk boundaries of layout's tensors).
void grad_square_chunks(const ParamLayout& layout, const float* grads, ParamRange r, std::vector<double>& partials);
double norm_of_partials(const std::vector<double>& partials);  // sqrt of their in-order sum
// grads[lo, hi) *= the clip factor of `norm` (nothing when norm <= max_norm or max_norm <= 0).
void clip_to_norm(float* grads, int64_t lo, int64_t hi, double norm, double max_norm);

struct LrSchedule {
  double peak = 1e-3;
  int64_t warmup_steps = 0;   // linear from peak/warmup to peak
  int64_t decay_start = 0;    // constant peak until here (>= warmup_steps)
  int64_t decay_end = 0;      // cosine from peak down to final at decay_end
  double final_lr = 1e-4;     // and constant after it
  double at(int64_t step) const;  // step counts from 0
};

// A value that switches once, e.g. λ 0.3 -> 0.1 or γ 0.001 -> 0 late in training.
struct Switched {
  double before = 0, after = 0;
  int64_t at_step = -1;  // < 0: never switches
  double at(int64_t step) const { return at_step >= 0 && step >= at_step ? after : before; }
};

}  // namespace dsv3
