// Rotary position embedding of the decoupled key/query part (qk_rope_head_dim), with YaRN.
// Pairs are interleaved: (x[2i], x[2i+1]) rotates by angle pos · freq[i], as in DeepSeek's
// reference (view_as_complex over the last dimension).
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace dsv3 {

class Rope {
 public:
  explicit Rope(const ModelConfig& cfg);

  int64_t dim() const { return dim_; }
  const std::vector<float>& freqs() const { return freqs_; }
  // cos/sin [dim/2] of position pos.
  void angles(int64_t pos, float* cos_out, float* sin_out) const;
  // Rotates x [dim] in place by the angles of one position.
  void rotate(float* x, const float* cos, const float* sin) const;
  // Backward of rotate: the inverse rotation (training).
  void rotate_back(float* x, const float* cos, const float* sin) const;

 private:
  int64_t dim_;
  std::vector<float> freqs_;  // [dim/2]
};

// The attention softmax scale: qk_head_dim^-1/2, times m² under YaRN with
// m = 0.1 · mscale_all_dim · ln(factor) + 1. Squared because YaRN's temperature multiplies both
// the queries and the keys in the paper's formulation.
float attention_softmax_scale(const ModelConfig& cfg);

}  // namespace dsv3
