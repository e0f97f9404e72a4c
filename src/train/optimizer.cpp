#include "train/optimizer.h"

#include <algorithm>
#include <cmath>

#include "core/dtype.h"
#include "core/error.h"

namespace dsv3 {

AdamW::AdamW(const ParamLayout& layout, const AdamWOptions& opt) : AdamW(layout, opt, {0, layout.n_params()}) {}

AdamW::AdamW(const ParamLayout& layout, const AdamWOptions& opt, ParamRange range)
    : layout_(layout), opt_(opt), range_(range) {
  if (range.lo < 0 || range.hi > layout.n_params() || range.lo > range.hi)
    fail("AdamW range [", range.lo, ", ", range.hi, ") outside the ", layout.n_params(), " parameters");
  const size_t n = size_t(range.size());
  if (opt.bf16_moments) {
    mb_.assign(n, 0);
    vb_.assign(n, 0);
  } else {
    m_.assign(n, 0.0f);
    v_.assign(n, 0.0f);
  }
  decay_.assign(n, 0);
  for (const ParamTensor& t : layout.params()) {
    const int64_t lo = std::max(t.offset, range.lo), hi = std::min(t.offset + t.size, range.hi);
    if (t.decay() && lo < hi) std::fill(decay_.begin() + (lo - range.lo), decay_.begin() + (hi - range.lo), 1);
  }
}

int64_t AdamW::state_bytes() const { return 2 * range_.size() * (opt_.bf16_moments ? 2 : 4); }

void AdamW::step(float* params, const float* grads, double lr) {
  ++t_;
  const float b1 = float(opt_.beta1), b2 = float(opt_.beta2), eps = float(opt_.eps);
  const float c1 = float(1.0 / (1.0 - std::pow(opt_.beta1, double(t_))));
  const float c2 = float(1.0 / (1.0 - std::pow(opt_.beta2, double(t_))));
  const float lr_f = float(lr), wd = float(opt_.weight_decay);
  const bool bf16 = opt_.bf16_moments;
  const int64_t n = range_.size();
  params += range_.lo;
  grads += range_.lo;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grads[i];
    float m = bf16 ? bf16_to_f32(mb_[size_t(i)]) : m_[size_t(i)];
    float v = bf16 ? bf16_to_f32(vb_[size_t(i)]) : v_[size_t(i)];
    m = b1 * m + (1.0f - b1) * g;
    v = b2 * v + (1.0f - b2) * g * g;
    if (bf16) {
      mb_[size_t(i)] = f32_to_bf16(m);
      vb_[size_t(i)] = f32_to_bf16(v);
    } else {
      m_[size_t(i)] = m;
      v_[size_t(i)] = v;
    }
    float update = (m * c1) / (std::sqrt(v * c2) + eps);
    if (decay_[size_t(i)]) update += wd * params[i];
    params[i] -= lr_f * update;
  }
}

std::vector<float> AdamW::moment(int which) const {
  if (!opt_.bf16_moments) return which == 0 ? m_ : v_;
  const auto& src = which == 0 ? mb_ : vb_;
  std::vector<float> out(src.size());
  for (size_t i = 0; i < src.size(); ++i) out[i] = bf16_to_f32(src[i]);
  return out;
}

void AdamW::restore(const std::vector<float>& m, const std::vector<float>& v, int64_t steps) {
  if (int64_t(m.size()) != range_.size() || int64_t(v.size()) != range_.size())
    fail("optimizer state has ", m.size(), " moments, this optimizer ", range_.size(), " parameters");
  t_ = steps;
  if (!opt_.bf16_moments) {
    m_ = m;
    v_ = v;
    return;
  }
  for (size_t i = 0; i < m.size(); ++i) {
    mb_[i] = f32_to_bf16(m[i]);  // exact: the values were BF16 when saved
    vb_[i] = f32_to_bf16(v[i]);
  }
}

void grad_square_chunks(const ParamLayout& layout, const float* grads, ParamRange r, std::vector<double>& partials) {
  struct Chunk {
    int64_t lo, hi, number;
  };
  std::vector<Chunk> chunks;
  for (const ParamTensor& t : layout.params()) {
    const int64_t lo = std::max(t.offset, r.lo), hi = std::min(t.offset + t.size, r.hi);
    if (lo >= hi) continue;
    if ((lo - t.offset) % kGradNormChunk != 0 || (hi != t.offset + t.size && (hi - t.offset) % kGradNormChunk != 0))
      fail("grad_square_chunks: [", r.lo, ", ", r.hi, ") cuts a chunk of ", t.name);
    for (int64_t c = lo; c < hi; c += kGradNormChunk)
      chunks.push_back({c, std::min(hi, c + kGradNormChunk), t.first_chunk + (c - t.offset) / kGradNormChunk});
  }
#pragma omp parallel for schedule(static)
  for (size_t k = 0; k < chunks.size(); ++k) {
    double s = 0.0;
    for (int64_t i = chunks[k].lo; i < chunks[k].hi; ++i) s += double(grads[i]) * grads[i];
    partials[size_t(chunks[k].number)] = s;
  }
}

double norm_of_partials(const std::vector<double>& partials) {
  double ss = 0.0;
  for (double p : partials) ss += p;
  return std::sqrt(ss);
}

void clip_to_norm(float* grads, int64_t lo, int64_t hi, double norm, double max_norm) {
  if (max_norm <= 0 || norm <= max_norm) return;
  const float scale = float(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static)
  for (int64_t i = lo; i < hi; ++i) grads[i] *= scale;
}

double LrSchedule::at(int64_t step) const {
  if (step < warmup_steps) return peak * double(step + 1) / double(warmup_steps);
  if (step < decay_start) return peak;
  if (step < decay_end) {
    const double p = double(step - decay_start) / double(decay_end - decay_start);
    return final_lr + 0.5 * (peak - final_lr) * (1.0 + std::cos(M_PI * p));
  }
  return final_lr;
}

}  // namespace dsv3
