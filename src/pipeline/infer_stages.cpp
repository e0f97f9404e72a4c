#include "pipeline/infer_stages.h"

#include "core/error.h"
#include "pipeline/fault.h"

namespace dsv3::pipeline {

namespace {
constexpr int kHiddenTag = 31000;  // apart from the training executor's and stage_params' tags
constexpr int kFinalTag = 31001;
}  // namespace

InferenceStages::InferenceStages(dist::Communicator& comm, const std::vector<int>& stage_layers, int64_t micro_batches)
    : comm_(comm), micro_batches_(micro_batches) {
  if (micro_batches < 1) fail("pipeline: --micro-batches must be at least 1, got ", micro_batches);
  if (int(stage_layers.size()) != comm.size())
    fail("pipeline: ", stage_layers.size(), " stages for ", comm.size(), " ranks");
  range_ = stage_ranges(stage_layers)[size_t(comm.rank())];
}

void InferenceStages::receive(float* x, int64_t count) const {
  maybe_fault(comm_.rank(), hand_overs_++);
  comm_.recv(x, count, dist::Elem::F32, comm_.rank() - 1, kHiddenTag);
}

// Sent without waiting: the next micro-batch's layers run meanwhile. The buffer lives until sent().
void InferenceStages::send(std::vector<float> x) const {
  maybe_fault(comm_.rank(), hand_overs_++);
  auto& [req, buf] = sending_.emplace_back(nullptr, std::move(x));
  req = comm_.send_start(buf.data(), int64_t(buf.size()), dist::Elem::F32, comm_.rank() + 1, kHiddenTag);
}

void InferenceStages::sent() const {
  for (auto& s : sending_) s.first->wait();
  sending_.clear();
}

// Posted when the pass starts: the first stage may be inside another pass's broadcast or
// send when the last stage sends, and a send that waits for its receive would then deadlock.
void InferenceStages::expect_final(float* hidden, int64_t count) const {
  const int last = comm_.size() - 1;
  if (last == 0 || comm_.rank() != 0) return;
  expected_.push_back(comm_.recv_start(hidden, count, dist::Elem::F32, last, kFinalTag));
}

// Messages between two ranks with one tag arrive in the order sent, and the last stage sends
// the passes' final states in the order the first stage started them: the oldest is next.
void InferenceStages::share_final(float* hidden, int64_t count) const {
  const int last = comm_.size() - 1;
  if (last == 0) return;
  if (comm_.rank() == last) {
    comm_.send(hidden, count, dist::Elem::F32, 0, kFinalTag);
  } else if (comm_.rank() == 0) {
    if (expected_.empty()) fail("pipeline: the final states of a pass that expect_final did not post");
    expected_.front()->wait();
    expected_.pop_front();
  }
}

}  // namespace dsv3::pipeline
