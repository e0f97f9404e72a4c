// Expert-parallel inference: the routed experts of every MoE layer (main and MTP) are spread
// over the ranks of an expert group; everything else is replicated.
//
// Every rank runs the same forward on the same token rows (attention, router and shared expert
// replicated), so routing is identical everywhere. At each MoE layer the rows are cut into N
// contiguous slices; rank r dispatches its slice's rows to the owners of their experts, owners
// run their E/N experts, combine brings the outputs back, and an all-gather of the slices gives
// every rank the layer's output. The shared expert runs while the dispatched rows are in flight.
// Each expert sees exactly the rows, in exactly the order, that
// it sees in one process, and the weighted sum runs in the same order: results are bitwise those
// of a single process, while each rank reads only its own experts' weights.
#pragma once
#include <cstdint>
#include <string>

#include "dist/dispatch.h"
#include "dist/timeline.h"
#include "model/block.h"

namespace dsv3 {
class Checkpoint;
}

namespace dsv3::dist {

class ExpertParallelMoe final : public MoeRunner {
 public:
  ExpertParallelMoe(Communicator& expert_group, int64_t n_experts, int64_t hidden);
  void forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& p,
               ExpertLoad* load) override;

  // Data-parallel attention: each rank's n rows are its own (other ranks hold other rows, n may
  // be 0); router and shared expert run on them, and no all-gather follows the combine.
  void set_rows_are_own(bool own) { rows_are_own_ = own; }

  // Records each layer's phases (router, dispatch, shared expert while the rows are in flight,
  // the wait, routed experts, combine, all-gather) and the time between MoE layers.
  void set_timeline(Timeline* t) { timeline_ = t; }
  const ExpertPlacement& placement() const { return place_; }
  const ExchangeStats& stats() const { return exchange_.stats(); }
  int64_t rows_through_layers() const { return rows_; }  // Σ over MoE layer calls of token rows
  int64_t gather_bytes() const { return gather_bytes_; }  // output slices sent to the other ranks

 private:
  void run_local_experts(float* y, const MoeWeights& w) const;
  Communicator& comm_;
  ExpertPlacement place_;
  int64_t H_;
  ExpertExchange exchange_;
  int64_t rows_ = 0, gather_bytes_ = 0;
  Timeline* timeline_ = nullptr;
  bool rows_are_own_ = false;
  double last_end_us_ = -1;
};

// Bytes of the routed experts' weights mapped into this process (/proc/self/pagemap), split
// into this rank's experts and the others'. Memory-mapped pages count once read; the kernel
// also maps up to 64 KiB of already-cached neighbours around a fault (fault-around), so a few
// pages next to this rank's experts show up without being read.
struct ExpertResidency {
  int64_t own_bytes = 0, own_resident = 0, other_bytes = 0, other_resident = 0, tensors = 0;
};
ExpertResidency expert_residency(const ModelWeights& w, const ExpertPlacement& place);

// Marks the other ranks' experts' pages MADV_RANDOM. Besides turning off read-ahead there, this
// splits the mapping at the experts' boundaries, and the kernel maps neighbours around a fault
// only within one mapping: faults on this rank's experts then stop pulling the others' pages in.
// Returns the number of ranges marked.
int64_t keep_other_experts_unmapped(const ModelWeights& w, const ExpertPlacement& place);

// A fingerprint of what a rank was given: config.json, every tensor's name, dtype and shape,
// and the bytes of the small replicated tensors (norms, router gates, biases) — enough to tell
// two checkpoints apart without reading any expert's weights.
uint64_t checkpoint_fingerprint(const std::string& config_json_path, const Checkpoint& ckpt);

}  // namespace dsv3::dist
