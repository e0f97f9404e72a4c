#include "io/json_file.h"
#include "train/distill.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "kernels/log_softmax.h"
#include "model/config.h"

namespace dsv3 {

TopKRecorder::TopKRecorder(int64_t rows, int64_t k, double temperature) : tau_(temperature) {
  out_.k = k;
  out_.ids.assign(size_t(rows * k), -1);
  out_.q.assign(size_t(rows * k), 0.0f);
}

double TopKRecorder::row(int64_t r, int32_t, float* z, int64_t V, bool) {
  const int64_t k = std::min(out_.k, V);
  std::vector<int32_t> idx(static_cast<size_t>(V));
  std::iota(idx.begin(), idx.end(), 0);
  // Ties go to the lower id, so the set does not depend on the sort's implementation.
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [z](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); });
  const double top = z[idx[0]];
  double sum = 0.0;
  for (int64_t j = 0; j < k; ++j) sum += std::exp((double(z[idx[size_t(j)]]) - top) / tau_);
  for (int64_t j = 0; j < k; ++j) {
    out_.ids[size_t(r * out_.k + j)] = idx[size_t(j)];
    out_.q[size_t(r * out_.k + j)] = float(std::exp((double(z[idx[size_t(j)]]) - top) / tau_) / sum);
  }
  return 0.0;
}

DistillObjective::DistillObjective(TeacherTopK teacher, const DistillOptions& opt, double weight)
    : t_(std::move(teacher)), opt_(opt), weight_(weight) {}

double DistillObjective::row(int64_t r, int32_t y, float* z, int64_t V, bool grad) {
  const double a = opt_.alpha, tau = opt_.temperature;
  const RowSoftmax s(z, V), s_t(z, V, tau);  // p = softmax(z), p^τ = softmax(z/τ)
  const int32_t* ids = &t_.ids[size_t(r * t_.k)];
  const float* q = &t_.q[size_t(r * t_.k)];
  double kl = 0.0;
  for (int64_t j = 0; j < t_.k; ++j) {
    if (ids[j] < 0 || q[j] <= 0.0f) continue;
    kl += double(q[j]) * (std::log(double(q[j])) - s_t.log_prob(z[ids[j]]));
  }
  const double ce = -s.log_prob(z[y]);
  if (grad) {
    for (int64_t v = 0; v < V; ++v) z[v] = float(weight_ * ((1.0 - a) * s.prob(z[v]) + a * tau * s_t.prob(z[v])));
    z[y] -= float(weight_ * (1.0 - a));
    for (int64_t j = 0; j < t_.k; ++j)
      if (ids[j] >= 0) z[ids[j]] -= float(weight_ * a * tau * double(q[j]));
  }
  return weight_ * ((1.0 - a) * ce + a * tau * tau * kl);
}

FrozenModel::FrozenModel(const std::string& dir, int64_t vocab)
    : layout_(load_config(dir + "/config.json")), model_(layout_.config(), Precision::kF32) {
  if (vocab >= 0 && layout_.config().vocab_size != vocab)
    fail(dir, ": its vocabulary has ", layout_.config().vocab_size, " ids, the trained model's ", vocab,
         " (the same tokenizer is needed)");
  params_.resize(size_t(layout_.n_params()));
  biases_.resize(size_t(layout_.n_bias()));
  load_params(layout_, dir, params_.data(), biases_.data());
}

void FrozenModel::run(const TokenRows& batch, HeadObjective& head) {
  const ModelWeights w = layout_.bind(params_.data(), biases_.data());
  LossNorm norm;
  norm.add(batch, int64_t(w.mtp.size()));
  model_.run(batch, w, {0.0, 0.0, &head}, norm, nullptr);
}

TeacherTopK teacher_top_k(FrozenModel& teacher, const TokenRows& batch, const DistillOptions& opt) {
  const int64_t V = teacher.config().vocab_size;
  TopKRecorder rec(batch.B * batch.T, opt.top_k > 0 ? std::min(opt.top_k, V) : V, opt.temperature);
  teacher.run(batch, rec);
  return rec.take();
}

json Distiller::operator()(int64_t, const ModelWeights&, std::vector<TokenRows>& batches,
                           std::vector<std::unique_ptr<HeadObjective>>& heads) const {
  LossNorm norm;  // N: the step's target rows, as the mean cross-entropy counts them
  for (const TokenRows& b : batches) norm.add(b, 0);
  const double weight = norm.main_targets > 0 ? 1.0 / double(norm.main_targets) : 0.0;
  for (size_t i = 0; i < batches.size(); ++i)
    heads[i] = std::make_unique<DistillObjective>(teacher_top_k(*teacher, batches[i], opt), opt, weight);
  return json::object();
}

}  // namespace dsv3
