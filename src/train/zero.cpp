#include "train/zero.h"

#include <algorithm>
#include <cstring>

#include "train/grad_sum.h"

namespace dsv3 {

std::vector<ParamRange> zero_slices(int64_t n, int ranks) {
  const int64_t chunks = (n + kGradNormChunk - 1) / kGradNormChunk;
  std::vector<ParamRange> out;
  for (int r = 0; r < ranks; ++r) {
    const int64_t c0 = chunks * r / ranks, c1 = chunks * (r + 1) / ranks;
    out.push_back({std::min(n, c0 * kGradNormChunk), std::min(n, c1 * kGradNormChunk)});
  }
  return out;
}

Zero1::Zero1(dist::Communicator& data, const ParamLayout& layout, const AdamWOptions& opt)
    : comm_(data), n_(layout.n_params()), slices_(zero_slices(layout.n_params(), data.size())) {
  adam_ = std::make_unique<AdamW>(layout, opt, range());
}

void Zero1::reduce_scatter(float* grads) {
  const int D = comm_.size();
  const ParamRange mine = range();
  std::vector<int64_t> send_counts, recv_counts(size_t(D), mine.size());
  for (const ParamRange& s : slices_) send_counts.push_back(s.size());
  // The slices are consecutive, so the buffer itself is the send buffer in rank order.
  std::vector<float> recv(size_t(D * mine.size()));
  comm_.all_to_all(grads, send_counts, recv.data(), recv_counts, dist::Elem::F32);
  PairwiseSum sum(mine.size());
  for (int r = 0; r < D; ++r) {
    std::vector<float> term = sum.fresh();
    std::copy_n(recv.data() + r * mine.size(), mine.size(), term.data());
    sum.add(std::move(term));
  }
  const std::vector<float> total = sum.take();
  std::copy(total.begin(), total.end(), grads + mine.lo);
}

double Zero1::clip(float* grads, double max_norm) {
  const ParamRange mine = range();
  const std::vector<double> part = grad_square_partials(grads, mine.lo, mine.hi);
  std::vector<int64_t> counts;
  for (const ParamRange& s : slices_) counts.push_back((s.size() + kGradNormChunk - 1) / kGradNormChunk);
  std::vector<double> all(size_t((n_ + kGradNormChunk - 1) / kGradNormChunk));
  comm_.all_gather(part.data(), all.data(), counts, dist::Elem::F64);
  const double norm = norm_of_partials(all);
  clip_to_norm(grads, mine.lo, mine.hi, norm, max_norm);
  return norm;
}

void Zero1::step(float* params, const float* grads, double lr) {
  adam_->step(params, grads, lr);
  all_gather(params);
}

void Zero1::all_gather(float* params) {
  const ParamRange mine = range();
  std::vector<int64_t> counts;
  for (const ParamRange& s : slices_) counts.push_back(s.size());
  std::vector<float> all(static_cast<size_t>(n_));
  comm_.all_gather(params + mine.lo, all.data(), counts, dist::Elem::F32);
  std::memcpy(params, all.data(), size_t(n_) * sizeof(float));
}

}  // namespace dsv3
