// ZeRO-1 data parallelism (Rajbhandari et al. 2020, stage 1; DeepSeek-V3 report §3.2): the D
// ranks of a data-parallel group each compute the gradient of their own micro-batches, then
//   1. reduce-scatter: rank r receives every rank's slice [lo_r, hi_r) of the gradient and adds
//      the D slices in rank order with train/grad_sum.h's rule (not MPI's reduction, whose order
//      is unspecified), so the slice equals the single-process sum bit for bit;
//   2. the global gradient norm: each rank's per-chunk Σ g² (slices start on chunk boundaries),
//      all-gathered and added in order, as one process adds them;
//   3. AdamW updates the slice only: the moments (and so the optimizer state) live 1/D per rank;
//   4. all-gather: every rank gets every updated slice, i.e. the whole new parameter buffer.
// With D = 1 every step is the single-process one.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "dist/comm.h"
#include "train/optimizer.h"

namespace dsv3 {

// The D slices of n parameters: whole chunks of kGradNormChunk, as even as chunks allow (a rank
// may get an empty slice when n has fewer chunks than ranks).
std::vector<ParamRange> zero_slices(int64_t n, int ranks);

class Zero1 {
 public:
  Zero1(dist::Communicator& data, const ParamLayout& layout, const AdamWOptions& opt);

  // grads [n]: on entry this rank's sum over its micro-batches; on return the slice range() holds
  // the sum over ranks (the rest of the buffer is scratch).
  void reduce_scatter(float* grads);
  // The global norm of the reduced gradient (collective); clips this rank's slice to max_norm.
  double clip(float* grads, double max_norm);
  // AdamW on this rank's slice, then params [n] becomes every rank's updated slice (collective).
  void step(float* params, const float* grads, double lr);
  // Collective: every rank's slice of params to everybody (also after a resume).
  void all_gather(float* params);

  AdamW& adam() { return *adam_; }
  const AdamW& adam() const { return *adam_; }
  const ParamRange& range() const { return slices_[size_t(comm_.rank())]; }
  const std::vector<ParamRange>& slices() const { return slices_; }

 private:
  dist::Communicator& comm_;
  int64_t n_;
  std::vector<ParamRange> slices_;
  std::unique_ptr<AdamW> adam_;
};

}  // namespace dsv3
