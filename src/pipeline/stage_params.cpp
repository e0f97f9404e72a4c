#include "io/json_file.h"
#include "pipeline/stage_params.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "dist/world.h"
#include "io/safetensors_writer.h"

namespace fs = std::filesystem;

namespace dsv3::pipeline {

namespace {

// Tags of the messages outside a step's schedule (the step's own stay far below).
constexpr int kSumTag = 30000, kExportTag = 30001;

// Removes this rank's state files of other steps than `keep` (one of its files).
void remove_old_states(const std::string& keep) {
  const std::string kept = fs::path(keep).filename().string(), tail = kept.substr(kept.find(".pp-rank-"));
  for (const auto& e : fs::directory_iterator(fs::path(keep).parent_path())) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("trainer_state.step-") && name.ends_with(tail) && name != kept) fs::remove(e.path());
  }
}

// "model.layers.12.mlp..." -> 12; -1 for a tensor outside the layers.
int64_t layer_index(const std::string& name) {
  const std::string p = "model.layers.";
  if (!name.starts_with(p)) return -1;
  const size_t dot = name.find('.', p.size());
  return dot == std::string::npos ? -1 : std::stoll(name.substr(p.size(), dot - p.size()));
}

}  // namespace

std::string pp_commit_path(const std::string& out) { return out + "/trainer_state.pp.json"; }

std::vector<int> stages_using(const std::string& name, const ModelConfig& cfg, const std::vector<StageRange>& ranges) {
  const int last = int(ranges.size()) - 1;
  const int64_t l = layer_index(name);
  if (l >= cfg.num_hidden_layers) return {last};  // an MTP module
  if (l >= 0) {
    for (int s = 0; s <= last; ++s)
      if (l >= ranges[size_t(s)].first && l < ranges[size_t(s)].end) return {s};
  } else if (name == "model.embed_tokens.weight") {
    // The MTP modules embed their input tokens; a tied head is the embedding.
    if (cfg.num_nextn_predict_layers > 0 || cfg.tie_word_embeddings) return last == 0 ? std::vector<int>{0} : std::vector<int>{0, last};
    return {0};
  } else if (name == "model.norm.weight" || name == "lm_head.weight") {
    return {last};
  }
  fail("pipeline: no stage uses the tensor ", name);
}

std::vector<std::vector<int>> tensor_holders(const ModelConfig& cfg, const Schedule& s,
                                             const std::vector<int>& stage_layers) {
  const std::vector<StageRange> ranges = stage_ranges(stage_layers);
  std::vector<std::vector<int>> out;
  const ParamLayout whole(cfg);
  for (const ParamTensor& t : whole.params()) {
    std::vector<int> ranks;
    for (int st : stages_using(t.name, cfg, ranges))
      for (int d = 0; d < s.dirs; ++d) ranks.push_back(s.rank_of(d, st));
    std::sort(ranks.begin(), ranks.end());
    ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
    out.push_back(std::move(ranks));
  }
  return out;
}

StageParams::StageParams(const ModelConfig& cfg, const Schedule& s, const std::vector<int>& stage_layers,
                         dist::Communicator& comm, dist::Communicator* data, ExpertShare experts)
    : cfg_(cfg), holders_(tensor_holders(cfg, s, stage_layers)), comm_(comm), data_(data), whole_(cfg),
      mine_(cfg, experts, [&](const std::string& name) {
        const std::vector<int>& h = holders_[size_t(whole_.find(name)->index)];
        return std::find(h.begin(), h.end(), comm.rank()) != h.end();
      }) {
  if (s.ranks != comm.size()) fail("pipeline: the schedule has ", s.ranks, " ranks, the group ", comm.size());
  describe_ = {{"pp", s.ranks}, {"schedule", schedule_name(s.kind)}, {"stage_layers", stage_layers}};
  if (data_) describe_["dp"] = data_->size();
  if (experts.count > 0 && experts.count < cfg.n_routed_experts) {
    if (!data_) fail("pipeline: a share of the experts without data-parallel ranks to hold the others");
    experts_per_rank_ = experts.count;
    describe_["ep"] = cfg.n_routed_experts / experts.count;  // a rank's files hold its experts only
  }
}

std::string StageParams::state_path(const std::string& out, int64_t step) const {
  std::string p = cat(out, "/trainer_state.step-", step, ".pp-rank-", comm_.rank(), "-of-", comm_.size());
  if (data_) p += cat(".dp-rank-", data_->rank(), "-of-", data_->size());
  return p + ".safetensors";
}

// The pipeline group, then the data group: every rank has passed the first when any leaves the
// second.
void StageParams::barrier() {
  comm_.barrier();
  if (data_) data_->barrier();
}

// Tensor by tensor in layout order (the same order on every holder, so the exchanges pair up
// and no cycle of waits can form), each in pieces of at most `piece` floats: MPI counts are ints,
// and one bounded receive buffer replaces a copy of everything shared. A piece's terms are added
// in rank order as it arrives, before the next one is posted.
void StageParams::sum_grads(float* grads, int64_t piece) {
  if (piece < 1) fail("pipeline: gradient pieces of ", piece, " values");
  const int me = comm_.rank();
  std::vector<float> in;  // [holders - 1][piece] the other holders' terms of one piece
  for (const ParamTensor& t : mine_.params()) {
    const std::vector<int>& h = holders_[size_t(t.index)];
    if (h.size() < 2) continue;
    in.resize((h.size() - 1) * size_t(std::min(piece, t.size)));
    for (int64_t lo = 0; lo < t.size; lo += piece) {
      const int64_t n = std::min(piece, t.size - lo);
      float* g = grads + t.offset + lo;
      std::vector<std::unique_ptr<dist::Request>> reqs;
      std::vector<const float*> terms;  // in rank order
      size_t slot = 0;                  // of `in`
      for (int r : h) {
        if (r == me) {
          terms.push_back(g);
          continue;
        }
        float* buf = in.data() + slot++ * size_t(n);
        reqs.push_back(comm_.send_start(g, n, dist::Elem::F32, r, kSumTag));
        reqs.push_back(comm_.recv_start(buf, n, dist::Elem::F32, r, kSumTag));
        terms.push_back(buf);
      }
      for (auto& q : reqs) q->wait();  // the sends too: g is overwritten below
      for (int64_t i = 0; i < n; ++i) {
        float sum = terms[0][i];
        for (size_t k = 1; k < terms.size(); ++k) sum += terms[k][i];
        g[i] = sum;
      }
    }
  }
}

void StageParams::save(const std::string& out, const float* params, const float* biases,
                       const std::vector<StatePart>& parts, const TrainState& st, DType export_dtype) {
  const bool first_data_rank = !data_ || data_->rank() == 0;
  fs::create_directories(out);
  const std::string path = state_path(out, st.step);
  save_trainer_state(path, mine_, params, biases, parts, st);
  barrier();  // every rank's part is on disk before the commit names the step
  if (comm_.rank() == 0 && first_data_rank)
    write_file_atomic(pp_commit_path(out),
                      json{{"step", st.step}, {"pp", comm_.size()}, {"pipeline", describe_}}.dump() + "\n");
  barrier();
  remove_old_states(path);
  // The first expert group's pipelines hold every tensor (the others hold the same weights).
  if (!data_ || data_->rank() < expert_ranks()) export_whole(out, params, biases, export_dtype);
}

bool StageParams::resume(const std::string& out, float* params, float* biases, const std::vector<StatePart>& parts,
                         TrainState& st) {
  if (!fs::exists(pp_commit_path(out))) {
    if (fs::exists(out + "/trainer_state.safetensors") || fs::exists(out + "/trainer_state.dp.json"))
      dist::fail_on_every_rank(cat(out, " holds the checkpoint of a run without --pp: resume it as it was run"));
    return false;
  }
  const json j = read_json_file(pp_commit_path(out));
  if (j.value("pipeline", json()) != describe_)
    dist::fail_on_every_rank(cat(out, " holds the checkpoint of the pipeline ", j.value("pipeline", json()).dump(),
                                 ", this run is ", describe_.dump(), " (resume needs the same layout)"));
  load_trainer_state(state_path(out, j.at("step").get<int64_t>()), mine_, params, biases, parts, st);
  return true;
}

// The pipeline and data rank whose copy of tensor p the export takes: the first rank holding
// its stage, in the pipeline of data rank 0, or for a routed expert of the data rank (among the
// first E, whose expert ranks are their data ranks: dist::make_groups) that owns it.
std::pair<int, int> StageParams::export_source(const ParamTensor& p) const {
  const int data_rank = p.expert >= 0 && experts_per_rank_ > 0 ? int(p.expert / experts_per_rank_) : 0;
  return {holders_[size_t(p.index)][0], data_rank};
}

// Rank 0 of the pipeline of data rank 0 writes the export; each tensor it does not hold comes
// from its source (export_source), in the export's order, one at a time (so no rank ever holds
// the whole model): over the pipeline group, and a routed expert of data rank d > 0 through
// rank 0 of d's pipeline, which passes it on over the data group.
void StageParams::export_whole(const std::string& dir, const float* params, const float* biases, DType dtype) {
  const int me = comm_.rank(), my_data = data_ ? data_->rank() : 0;
  const TensorTable table(cfg_);
  if (me != 0 || my_data != 0) {
    std::vector<float> relay;
    for (const TensorSpec& t : table.tensors()) {
      if (t.role == TensorRole::kBias) continue;
      const ParamTensor* p = whole_.find(dsv3::export_source(cfg_, t));
      const auto [stage_rank, data_rank] = export_source(*p);
      if (data_rank != my_data || (stage_rank == 0 && data_rank == 0)) continue;
      const float* value = stage_rank == me ? params + mine_.find(p->name)->offset : nullptr;
      if (me == 0 && stage_rank != 0) {  // a relay: from this pipeline's holder
        relay.resize(size_t(p->size));
        comm_.recv(relay.data(), p->size, dist::Elem::F32, stage_rank, kExportTag);
        value = relay.data();
      }
      if (me == stage_rank && me != 0) comm_.send(value, p->size, dist::Elem::F32, 0, kExportTag);
      else if (me == 0) data_->send(value, p->size, dist::Elem::F32, 0, kExportTag);
    }
    return;
  }
  std::vector<float> buf;
  export_model(dir, whole_,
               [&](const ParamTensor& p) -> const float* {
                 if (const ParamTensor* m = mine_.find(p.name)) return params + m->offset;
                 buf.resize(size_t(p.size));
                 const auto [stage_rank, data_rank] = export_source(p);
                 if (data_rank == 0) comm_.recv(buf.data(), p.size, dist::Elem::F32, stage_rank, kExportTag);
                 else data_->recv(buf.data(), p.size, dist::Elem::F32, data_rank, kExportTag);
                 return buf.data();
               },
               biases, dtype);
}

}  // namespace dsv3::pipeline
