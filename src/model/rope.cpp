#include "model/rope.h"

#include <algorithm>
#include <cmath>

namespace dsv3 {

namespace {

// The dimension index whose wavelength completes `rotations` turns over the original context.
double correction_dim(double rotations, int64_t dim, double base, double orig_len) {
  return double(dim) * std::log(orig_len / (rotations * 2.0 * M_PI)) / (2.0 * std::log(base));
}

}  // namespace

// Float32 arithmetic mirrors the reference, which builds the table in torch.float32.
Rope::Rope(const ModelConfig& cfg) : dim_(cfg.qk_rope_head_dim), freqs_(size_t(cfg.qk_rope_head_dim / 2)) {
  const float base = float(cfg.rope_theta);
  for (int64_t i = 0; i < dim_ / 2; ++i)
    freqs_[size_t(i)] = 1.0f / std::pow(base, float(2 * i) / float(dim_));
  if (!cfg.yarn_active()) return;
  // YaRN: high-frequency dimensions (many turns within the original context) keep their
  // frequency; low-frequency ones are interpolated by 1/factor; a linear ramp joins them.
  const RopeScaling& y = cfg.rope_scaling;
  const double orig = double(y.original_max_position_embeddings);
  double low = std::floor(correction_dim(y.beta_fast, dim_, cfg.rope_theta, orig));
  double high = std::ceil(correction_dim(y.beta_slow, dim_, cfg.rope_theta, orig));
  low = std::max(low, 0.0);
  high = std::min(high, double(dim_ - 1));
  if (low == high) high += 0.001;
  const float factor = float(y.factor);
  for (int64_t i = 0; i < dim_ / 2; ++i) {
    const float ramp = std::clamp((float(i) - float(low)) / (float(high) - float(low)), 0.0f, 1.0f);
    const float smooth = 1.0f - ramp;
    const float f = freqs_[size_t(i)];
    freqs_[size_t(i)] = f / factor * (1.0f - smooth) + f * smooth;
  }
}

void Rope::angles(int64_t pos, float* cos_out, float* sin_out) const {
  for (int64_t i = 0; i < dim_ / 2; ++i) {
    const float a = float(pos) * freqs_[size_t(i)];
    cos_out[i] = float(std::cos(double(a)));
    sin_out[i] = float(std::sin(double(a)));
  }
}

void Rope::rotate(float* x, const float* cos, const float* sin) const {
  for (int64_t i = 0; i < dim_ / 2; ++i) {
    const float re = x[2 * i], im = x[2 * i + 1];
    x[2 * i] = re * cos[i] - im * sin[i];
    x[2 * i + 1] = re * sin[i] + im * cos[i];
  }
}

void Rope::rotate_back(float* x, const float* cos, const float* sin) const {
  for (int64_t i = 0; i < dim_ / 2; ++i) {
    const float re = x[2 * i], im = x[2 * i + 1];
    x[2 * i] = re * cos[i] + im * sin[i];
    x[2 * i + 1] = -re * sin[i] + im * cos[i];
  }
}

float attention_softmax_scale(const ModelConfig& cfg) {
  double s = 1.0 / std::sqrt(double(cfg.qk_head_dim()));
  const RopeScaling& y = cfg.rope_scaling;
  if (cfg.yarn_active() && y.mscale_all_dim > 0 && y.factor > 1.0) {
    const double m = 0.1 * y.mscale_all_dim * std::log(y.factor) + 1.0;
    s *= m * m;
  }
  return float(s);
}

}  // namespace dsv3
