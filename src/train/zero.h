// ZeRO-1 data parallelism (Rajbhandari et al. 2020, stage 1; DeepSeek-V3 report §3.2) over one
// part of a rank's parameter buffer and the group of ranks that hold that part: the replicated
// tensors over the D ranks of a data group, a rank's routed experts over the D/E ranks holding
// the same experts (one per expert group). Each rank computed the gradient of its own
// micro-batches; then
//   1. reduce-scatter: rank r receives every rank's slice r of the part's gradient and adds the
//      slices in rank order with train/grad_sum.h's rule (not MPI's reduction, whose order is
//      unspecified), so the slice equals the single-process sum bit for bit;
//   2. the global gradient norm: the Σ g² of the chunks of every part's slice (slices are cut on
//      chunk boundaries), all-reduced over the data group — each chunk lives on exactly one of
//      its ranks, so the sum is that one value — and added in checkpoint order (clip_split_norm);
//   3. AdamW updates the slice only: the moments live on one rank each;
//   4. all-gather: every rank of the group gets the updated part.
// With a group of one every step is the single-process one.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "dist/comm.h"
#include "train/optimizer.h"

namespace dsv3 {

// The slices of `part` (a run of whole tensors of layout's buffer) over `ranks`: cut on
// gradient-norm chunk boundaries, as even in elements as chunks allow (a rank may get an empty
// slice when the part has fewer chunks than ranks).
std::vector<ParamRange> zero_slices(const ParamLayout& layout, ParamRange part, int ranks);

class Zero1 {
 public:
  Zero1(dist::Communicator& group, const ParamLayout& layout, ParamRange part, const AdamWOptions& opt);

  // grads [n_params]: on entry this rank's sum over its micro-batches; on return the slice
  // range() holds the sum over the group (the rest of the part is scratch).
  void reduce_scatter(float* grads);
  // The Σ g² of this rank's slice's chunks into partials [layout.n_chunks()].
  void square_chunks(const float* grads, std::vector<double>& partials) const;
  // AdamW on this rank's slice, then the part of params becomes every rank's slice (collective).
  void step(float* params, const float* grads, double lr);
  // Collective: every rank's slice of the part to everybody (also after a resume).
  void all_gather(float* params);

  AdamW& adam() { return *adam_; }
  const AdamW& adam() const { return *adam_; }
  const ParamRange& part() const { return part_; }
  const ParamRange& range() const { return slices_[size_t(comm_.rank())]; }
  const std::vector<ParamRange>& slices() const { return slices_; }

 private:
  dist::Communicator& comm_;
  const ParamLayout& layout_;
  ParamRange part_;
  std::vector<ParamRange> slices_;
  std::unique_ptr<AdamW> adam_;
};

// The global gradient norm of a model spread over ranks (optimizer.h's chunks), and the clip:
// this rank holds `ranges` of grads [layout.n_params()]; the Σ g² of their chunks, but for the
// tensors `counted` rejects (another rank counts them; empty: all counted), are all-reduced over
// each of `groups` in turn — every chunk is counted on exactly one rank, so the others add exact
// zeros — and added in checkpoint order. Clips `ranges` to max_norm (no-op when max_norm <= 0);
// returns the norm before clipping. One process: ranges {0, n_params}, no groups. The trainer's
// only gradient norm, in every layout.
double clip_split_norm(const ParamLayout& layout, float* grads, const std::vector<ParamRange>& ranges,
                       const std::vector<dist::Communicator*>& groups,
                       const std::function<bool(const ParamTensor&)>& counted, double max_norm);

}  // namespace dsv3
