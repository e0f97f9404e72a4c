// Pipeline-parallel inference (`mpirun -np P dsv3 generate --pp P`): rank r of the pipeline
// group runs the decoder layers of stage r (model/model.h's StageLink). Each forward pass walks
// the stages in order — stage r receives the hidden states [n, hidden] of stage r-1 and sends its
// own on — and the last stage sends the final-normed states back to rank 0. Rank 0 alone computes
// logits, samples and runs the MTP module (with --ep, stage 0's ranks join its MoE layer's
// exchanges); the other ranks run the main model's calls it sends them
// (tools/dsv3/expert_parallel_serve.h's follow_steps), so ranks cannot disagree on a token.
// Each rank's caches hold its own layers only.
#pragma once
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "dist/comm.h"
#include "model/model.h"
#include "pipeline/stages.h"

namespace dsv3::pipeline {

class InferenceStages final : public StageLink {
 public:
  // stage_layers: the layer count of each of comm.size() stages; micro_batches >= 1.
  InferenceStages(dist::Communicator& comm, const std::vector<int>& stage_layers, int64_t micro_batches);

  int64_t first() const override { return range_.first; }
  int64_t end() const override { return range_.end; }
  int64_t micro_batches() const override { return micro_batches_; }
  void receive(float* x, int64_t count) const override;
  void send(std::vector<float> x) const override;
  void sent() const override;
  void expect_final(float* hidden, int64_t count) const override;
  void share_final(float* hidden, int64_t count) const override;

 private:
  dist::Communicator& comm_;
  StageRange range_;
  int64_t micro_batches_;
  // The sends in flight and their buffers (a forward pass is const on the model).
  mutable std::vector<std::pair<std::unique_ptr<dist::Request>, std::vector<float>>> sending_;
  // The first stage: the final states' receives posted, oldest first (passes in flight).
  mutable std::deque<std::unique_ptr<dist::Request>> expected_;
  mutable int64_t hand_overs_ = 0;  // receives and sends so far (pipeline/fault.h's test hook)
};

}  // namespace dsv3::pipeline
