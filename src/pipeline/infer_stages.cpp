#include "pipeline/infer_stages.h"

#include "core/error.h"

namespace dsv3::pipeline {

namespace {
constexpr int kHiddenTag = 31000;  // apart from the training executor's and stage_params' tags
constexpr int kFinalTag = 31001;
}  // namespace

InferenceStages::InferenceStages(dist::Communicator& comm, const std::vector<int>& stage_layers) : comm_(comm) {
  if (int(stage_layers.size()) != comm.size())
    fail("pipeline: ", stage_layers.size(), " stages for ", comm.size(), " ranks");
  range_ = stage_ranges(stage_layers)[size_t(comm.rank())];
}

void InferenceStages::receive(float* x, int64_t count) const {
  comm_.recv(x, count, dist::Elem::F32, comm_.rank() - 1, kHiddenTag);
}

void InferenceStages::send(const float* x, int64_t count) const {
  comm_.send(x, count, dist::Elem::F32, comm_.rank() + 1, kHiddenTag);
}

void InferenceStages::share_final(float* hidden, int64_t count) const {
  const int last = comm_.size() - 1;
  if (last == 0) return;
  if (comm_.rank() == last) comm_.send(hidden, count, dist::Elem::F32, 0, kFinalTag);
  else if (comm_.rank() == 0) comm_.recv(hidden, count, dist::Elem::F32, last, kFinalTag);
}

}  // namespace dsv3::pipeline
