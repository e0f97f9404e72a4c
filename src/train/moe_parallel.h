// Expert-parallel training (`train --dp D --ep E`, docs/distributed.md): the routed experts of
// every MoE layer are split over the E ranks of an expert group, and each rank runs its own
// micro-batch. Per MoE layer, forward:
//   route this rank's rows (model/moe.h's moe_route) -> dispatch each row to its experts' owners
//   (dist/dispatch.h), the gates with it -> the shared expert runs while the rows are in flight
//   -> each owner runs each local expert once per source rank, on that source's rows in its order
//   -> combine brings the outputs back, added per token in ascending expert id.
// Backward: dL/d(out) rows travel the same way; the owner computes dL/dg (sent back) and the
// expert's backward, whose input gradients come back through combine; the router's backward
// runs on the token's rank (train/moe_backward.h).
//
// Why per source: an owner's expert then sees exactly the rows, in exactly the order, that it
// sees in one process for that micro-batch, so outputs and weight gradients are the single-
// process bits; the weight gradients of each source are kept apart and summed with
// train/grad_sum.h's pairwise rule in rank order (finish_step), the grouping one process uses
// over its micro-batches.
//
// In a pipeline (`train --pp P --dp D --ep E`, docs/pipeline.md) the E ranks of an expert group
// are one stage's ranks in E pipelines: they run the same operation list, so each MoE layer's
// exchanges pair up, and several micro-batches are in flight between a forward and its
// backward. The caller names the micro-batch of each forward and backward (set_micro_batch);
// the routing and expert activations are kept per (layer, micro-batch), and each source's
// weight-gradient terms are summed in micro-batch order whatever order the schedule runs the
// backwards in. The local experts' weight gradients are computed in the backward (B), also when
// the schedule defers the other weight gradients to W: their inputs are the dispatched rows,
// which only that backward's exchange brings.
//
// DualPipe's overlap (pipeline/interleave.h): forwards and backwards exchange through two
// ExpertExchanges, so a paired forward and backward chunk can each have one in flight; after
// starting a dispatch or combine the runner calls the yield hook (the other chunk computes),
// then waits, and adds the time it waited to exposed_wait_s().
#pragma once
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "dist/dispatch.h"
#include "model/block.h"
#include "train/grad_sum.h"
#include "train/moe_backward.h"

namespace dsv3 {

class ExpertParallelTraining final : public MoeRunner {
 public:
  ExpertParallelTraining(dist::Communicator& expert_group, const ModelConfig& cfg, Precision p);
  ~ExpertParallelTraining() override;

  // The micro-batch (of the step, in the order one process sums them) that the calling thread's
  // next forward and backward belong to; every rank of the group names the same one. 0 until
  // set. Per thread: a paired forward and backward run on two threads (pipeline/interleave.h).
  void set_micro_batch(int m);
  // Called after starting each dispatch and combine; empty: none.
  void set_yield(std::function<void()> yield) { yield_ = std::move(yield); }
  // The seconds spent waiting for dispatches and combines to complete, since construction.
  double exposed_wait_s() const { return exposed_wait_s_; }

  // moe_forward's contract on this rank's n rows; load counts this rank's rows.
  void forward(float* out, const float* x, int64_t n, const MoeWeights& w, const RouterParams& rp,
               ExpertLoad* load) override;
  // The routing (scores, ids, gates) of w's layer in its last forward, for the balance loss.
  const MoeActs& routing(const MoeWeights& w) const;
  // moe_backward's contract: dx [n, H] (overwritten). The local experts' weight gradients go to
  // this class's per-source sums, not to g; everything else to g.
  void backward(float* dx, const float* dout, const float* x, const Rows& rows, const MoeWeights& w,
                const RouterParams& rp, float balance_coef, const MoeBalance& bal, const GradSink& g);
  // After the step's last backward: writes the local experts' weight gradients into grads (the
  // flat buffer g pointed into), each source's sum over micro-batches (in micro-batch order),
  // then the sources summed pairwise in rank order. Resets the sums.
  void finish_step(float* grads);

  // Measuring the overlap (train --measure-overlap): the steps alternate between computing the
  // shared expert while the dispatched rows are in flight (as always) and waiting for the rows
  // before computing it — the same bits either way. The time the forward spends in the dispatch
  // outside computation (starting it, waiting for it), per kind of step, tells how much of it
  // the shared expert hides.
  struct OverlapTimes {
    double exposed_s[2] = {0, 0};  // [0] rows in flight during the shared expert, [1] waited for first
    int64_t calls[2] = {0, 0};
  };
  void measure_overlap(bool on) { probe_ = on; }
  const OverlapTimes& overlap_times() const { return times_; }

  const dist::ExpertPlacement& placement() const { return place_; }
  const dist::ExchangeStats& stats() const { return exchange_.stats(); }  // the forwards' exchanges

 private:
  struct Layer;
  struct Acts;
  Layer& layer(const MoeWeights& w);
  Acts& acts(const MoeWeights& w, bool create);  // of the current micro-batch
  void run_local_experts(Acts& A, const MoeWeights& w);
  void local_expert_backward(Layer& L, const Acts& A, const MoeWeights& w, const float* dout_rows, float* dgate_pair,
                             float* dx_pairs, const GradSink& g);

  dist::Communicator& comm_;
  dist::ExpertPlacement place_;
  int64_t H_;
  Precision precision_;
  dist::ExpertExchange exchange_, back_;  // the forwards', the backwards'
  std::function<void()> yield_;
  double exposed_wait_s_ = 0;
  void yield_then(const std::function<void()>& wait);  // yield_, then wait (timed)
  std::map<const void*, std::unique_ptr<Layer>> layers_;  // by the layer's router gate weights
  std::map<std::pair<const void*, int>, std::unique_ptr<Acts>> acts_;  // by gate weights, micro-batch
  bool probe_ = false;
  int64_t steps_ = 0;
  OverlapTimes times_;
};

}  // namespace dsv3
