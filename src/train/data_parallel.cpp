#include "train/data_parallel.h"

#include <filesystem>

#include "core/error.h"
#include "dist/dispatch.h"
#include "dist/world.h"
#include "io/json_file.h"
#include "io/safetensors_writer.h"
#include "train/train_state.h"
#include "train/trainer.h"

namespace fs = std::filesystem;

namespace dsv3 {

void check_data_parallel_batch(const TrainOptions& opt, int64_t T) {
  const int64_t A = opt.accumulation(T);
  if (A % opt.dp != 0)
    dist::fail_on_every_rank(cat("--batch-tokens ", opt.batch_tokens, " makes ", A, " micro-batches of ", opt.micro_batch,
                                 "×", T, " tokens per step, which the ", opt.dp, " data-parallel ranks do not share evenly"));
}

void all_reduce(LossNorm& norm, dist::Communicator& data) {
  std::vector<int64_t> v = {norm.main_targets, norm.sequences};
  v.insert(v.end(), norm.mtp_targets.begin(), norm.mtp_targets.end());
  data.all_reduce(v.data(), int64_t(v.size()));
  norm.main_targets = v[0];
  norm.sequences = v[1];
  std::copy(v.begin() + 2, v.end(), norm.mtp_targets.begin());
}

namespace {

// The integer parts of a StepLosses, flattened for one all-reduce.
std::vector<int64_t> counts_of(const StepLosses& l) {
  std::vector<int64_t> v = {l.main_count, l.main_correct};
  v.insert(v.end(), l.mtp_count.begin(), l.mtp_count.end());
  v.insert(v.end(), l.mtp_correct.begin(), l.mtp_correct.end());
  for (const auto& layer : l.load) v.insert(v.end(), layer.begin(), layer.end());
  return v;
}

void set_counts(StepLosses& l, const std::vector<int64_t>& v) {
  size_t i = 0;
  l.main_count = v[i++];
  l.main_correct = v[i++];
  for (auto& c : l.mtp_count) c = v[i++];
  for (auto& c : l.mtp_correct) c = v[i++];
  for (auto& layer : l.load)
    for (auto& c : layer) c = v[i++];
}

}  // namespace

StepLosses sum_step_losses(const std::vector<StepLosses>& mine, dist::Communicator* data) {
  StepLosses total;
  for (const StepLosses& l : mine) total.add(l);
  if (!data || data->size() == 1) return total;
  std::vector<int64_t> counts = counts_of(total);
  data->all_reduce(counts.data(), int64_t(counts.size()));
  set_counts(total, counts);
  // Every rank ran the same number of micro-batches: gather their losses, add in global order.
  std::vector<double> part;
  for (const StepLosses& l : mine) part.insert(part.end(), {l.total, l.main, l.mtp, l.balance});
  const std::vector<double> all = data->all_gather(part);
  total.total = total.main = total.mtp = total.balance = 0;
  for (size_t i = 0; i < all.size(); i += 4) {
    total.total += all[i];
    total.main += all[i + 1];
    total.mtp += all[i + 2];
    total.balance += all[i + 3];
  }
  return total;
}

std::string dp_commit_path(const std::string& out) { return out + "/trainer_state.dp.json"; }

std::string dp_state_path(const std::string& out, int64_t step, int rank, int ranks) {
  return cat(out, "/trainer_state.step-", step, ".rank-", rank, "-of-", ranks, ".safetensors");
}

DpCommit read_dp_commit(const std::string& out) {
  const std::string path = dp_commit_path(out);
  if (!fs::exists(path)) return {};
  const json j = read_json_file(path);
  return {j.at("step").get<int64_t>(), j.at("dp").get<int>(), j.value("ep", 1)};
}

void write_dp_commit(const std::string& out, int64_t step, int dp, int ep) {
  write_file_atomic(dp_commit_path(out), json{{"step", step}, {"dp", dp}, {"ep", ep}}.dump() + "\n");
}

void remove_old_dp_states(const std::string& out, int64_t keep, int rank, int ranks) {
  const std::string tail = cat(".rank-", rank, "-of-", ranks, ".safetensors");
  const std::string keep_name = fs::path(dp_state_path(out, keep, rank, ranks)).filename().string();
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("trainer_state.step-") && name.ends_with(tail) && name != keep_name) fs::remove(e.path());
  }
}

void export_sharded(const std::string& out, const ParamLayout& share, const float* params, const float* biases,
                    DType dtype, dist::Communicator& data_group, dist::Communicator& expert_group) {
  if (data_group.rank() >= expert_group.size()) return;  // not the expert group of data rank 0
  const ParamLayout whole(share.config());
  const dist::ExpertPlacement place = dist::place_experts(share.config().n_routed_experts, expert_group);
  constexpr int kTag = 4201;
  if (expert_group.rank() != 0) {
    // The tensors rank 0 asks for, in its order: every expert of this rank, in checkpoint order.
    for (const ParamTensor& t : share.params())
      if (t.expert >= 0) expert_group.send(params + t.offset, t.size, dist::Elem::F32, 0, kTag);
    return;
  }
  std::vector<float> other;
  export_model(out, whole,
               [&](const ParamTensor& t) -> const float* {
                 if (const ParamTensor* mine = share.find(t.name)) return params + mine->offset;
                 other.resize(size_t(t.size));
                 expert_group.recv(other.data(), t.size, dist::Elem::F32, place.owner(t.expert), kTag);
                 return other.data();
               },
               biases, dtype);
}

}  // namespace dsv3

namespace dsv3 {

std::unique_ptr<dist::Groups> open_train_groups(int dp, int ep, uint64_t settings) {
  if (dp <= 1 && ep <= 1 && !dist::launched_by_mpirun()) return nullptr;
  dist::Communicator& world = dist::world();
  dist::quiet_other_ranks();
  if (world.size() > 1 && dp == 1)
    dist::fail_on_every_rank(cat("started by mpirun with ", world.size(), " ranks: give --dp ", world.size()));
  dist::check_same_everywhere(world, settings, "training command (options, config or data)");
  return std::make_unique<dist::Groups>(dist::make_groups(world, {dp, 1, ep}));
}

}  // namespace dsv3
