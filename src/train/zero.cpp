#include "train/zero.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "train/grad_sum.h"

namespace dsv3 {

std::vector<ParamRange> zero_slices(const ParamLayout& layout, ParamRange part, int ranks) {
  std::vector<int64_t> cuts;  // every chunk start inside the part, ascending, then its end
  for (const ParamTensor& t : layout.params()) {
    if (t.offset + t.size <= part.lo || t.offset >= part.hi) continue;
    if (t.offset < part.lo || t.offset + t.size > part.hi) fail("zero_slices: the part cuts ", t.name);
    for (int64_t c = t.offset; c < t.offset + t.size; c += kGradNormChunk) cuts.push_back(c);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.push_back(part.hi);
  std::vector<ParamRange> out;
  int64_t lo = part.lo;
  for (int r = 0; r < ranks; ++r) {
    const int64_t target = part.lo + part.size() * (r + 1) / ranks;
    const int64_t hi = r + 1 == ranks ? part.hi : *std::lower_bound(cuts.begin(), cuts.end(), target);
    out.push_back({lo, hi});
    lo = hi;
  }
  return out;
}

Zero1::Zero1(dist::Communicator& group, const ParamLayout& layout, ParamRange part, const AdamWOptions& opt)
    : comm_(group), layout_(layout), part_(part), slices_(zero_slices(layout, part, group.size())) {
  adam_ = std::make_unique<AdamW>(layout, opt, range());
}

void Zero1::reduce_scatter(float* grads) {
  const int G = comm_.size();
  const ParamRange mine = range();
  std::vector<int64_t> send_counts, recv_counts(size_t(G), mine.size());
  for (const ParamRange& s : slices_) send_counts.push_back(s.size());
  // The slices are consecutive, so the part itself is the send buffer in rank order.
  std::vector<float> recv(size_t(G * mine.size()));
  comm_.all_to_all(grads + part_.lo, send_counts, recv.data(), recv_counts, dist::Elem::F32);
  PairwiseSum sum(mine.size());
  for (int r = 0; r < G; ++r) {
    std::vector<float> term = sum.fresh();
    std::copy_n(recv.data() + r * mine.size(), mine.size(), term.data());
    sum.add(std::move(term));
  }
  const std::vector<float> total = sum.take();
  std::copy(total.begin(), total.end(), grads + mine.lo);
}

void Zero1::square_chunks(const float* grads, std::vector<double>& partials) const {
  grad_square_chunks(layout_, grads, range(), partials);
}

void Zero1::step(float* params, const float* grads, double lr) {
  adam_->step(params, grads, lr);
  all_gather(params);
}

void Zero1::all_gather(float* params) {
  const ParamRange mine = range();
  std::vector<int64_t> counts;
  for (const ParamRange& s : slices_) counts.push_back(s.size());
  std::vector<float> all(static_cast<size_t>(part_.size()));
  comm_.all_gather(params + mine.lo, all.data(), counts, dist::Elem::F32);
  std::memcpy(params + part_.lo, all.data(), all.size() * sizeof(float));
}

double clip_split_norm(const ParamLayout& layout, float* grads, const std::vector<ParamRange>& ranges,
                       const std::vector<dist::Communicator*>& groups,
                       const std::function<bool(const ParamTensor&)>& counted, double max_norm) {
  std::vector<double> partials(size_t(layout.n_chunks()), 0.0);
  for (const ParamRange& r : ranges) grad_square_chunks(layout, grads, r, partials);
  if (counted)
    for (const ParamTensor& t : layout.params())
      if (!counted(t))
        std::fill_n(partials.begin() + t.first_chunk, (t.size + kGradNormChunk - 1) / kGradNormChunk, 0.0);
  for (dist::Communicator* g : groups) g->all_reduce(partials.data(), int64_t(partials.size()));
  const double norm = norm_of_partials(partials);
  for (const ParamRange& r : ranges) clip_to_norm(grads, r.lo, r.hi, norm, max_norm);
  return norm;
}

}  // namespace dsv3
