// What every training layer needs besides its weights: the config, RoPE tables, router
// parameters, the precision mode, and the shape of the batch (B sequences of T rows each).
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/rope.h"
#include "model/router.h"
#include "train/params.h"
#include "train/precision.h"

namespace dsv3 {

// B sequences of T consecutive positions (0..T-1); row b·T + t is position t of sequence b.
struct Rows {
  int64_t B = 0, T = 0;
  int64_t n() const { return B * T; }
};

struct TrainContext {
  TrainContext(const ModelConfig& c, Precision p);
  const ModelConfig& cfg;
  Rope rope;
  float softmax_scale;
  RouterParams router;
  Precision precision;
  float eps;
  // cos/sin [T, dr/2] of positions 0..T-1 (grown on demand by ensure_positions)
  std::vector<float> cos, sin;
  void ensure_positions(int64_t T);
  const float* cos_at(int64_t pos) const { return cos.data() + pos * (cfg.qk_rope_head_dim / 2); }
  const float* sin_at(int64_t pos) const { return sin.data() + pos * (cfg.qk_rope_head_dim / 2); }
};

}  // namespace dsv3
