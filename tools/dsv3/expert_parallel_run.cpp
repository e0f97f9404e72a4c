#include "expert_parallel_run.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/proc_fields.h"
#include "dist/timeline.h"
#include "io/checkpoint.h"

namespace dsv3::cli {

namespace {

// kB from /proc/self/status ("VmRSS:", "VmHWM:"); 0 where the kernel does not say.
int64_t status_kb(const char* key) { return std::max<int64_t>(0, proc_kb_field_bytes("/proc/self/status", key) / 1024); }

int64_t expert_bytes(const Checkpoint& ck) {
  int64_t b = 0;
  for (const auto& n : ck.names())
    if (n.find(".mlp.experts.") != std::string::npos) b += int64_t(ck.find(n)->nbytes);
  return b;
}

}  // namespace

ExpertParallelRun::ExpertParallelRun(const Args& a, Model& model, const std::string& dir) {
  if (a.has("pp") && !a.has("ep")) return;  // pipeline parallelism (pipeline_generate.h)
  if (!a.has("ep") && !a.has("profile") && !dist::launched_by_mpirun()) return;
  dist::Communicator& world = dist::world();
  dist::quiet_other_ranks();
  const int64_t ep = a.integer("ep", a.has("profile") && world.size() == 1 ? 1 : 0);
  if (!a.has("ep") && ep == 0) {
    if (world.size() == 1) return;
    dist::fail_on_every_rank(cat("started by mpirun with ", world.size(), " ranks: give --ep ", world.size()));
  }
  dist::check_same_everywhere(world, uint64_t(ep), "--ep");
  const int64_t pp = a.integer("pp", 1);  // with --pp: each stage's experts over its E ranks (pipeline_generate.h)
  if (ep * pp != world.size())
    dist::fail_on_every_rank(pp == 1 ? cat("--ep ", ep, " but the job has ", world.size(), " rank(s): start it with mpirun -np ", ep)
                                     : cat("--ep ", ep, " × --pp ", pp, " but the job has ", world.size(),
                                           " rank(s): start it with mpirun -np ", ep * pp));
  const Checkpoint* ck = model.checkpoint();
  if (!ck) fail("--ep needs a checkpoint folder");
  const auto config = (std::filesystem::path(dir) / "config.json").string();
  dist::check_same_everywhere(world, dist::checkpoint_fingerprint(config, *ck), "config or checkpoint (--model)");
  const ModelConfig& cfg = model.config();
  if (cfg.n_routed_experts == 0) dist::fail_on_every_rank("--ep: this model has no routed experts");
  groups_ = std::make_unique<dist::Groups>(dist::make_groups(world, {int(ep), int(pp), int(ep)}));
  moe_ = std::make_unique<dist::ExpertParallelMoe>(*groups_->expert, cfg.n_routed_experts, cfg.hidden_size);
  dist::keep_other_experts_unmapped(model.weights(), moe_->placement());
  if (a.has("profile")) {
    profile_path_ = a.str("profile");
    timeline_ = std::make_unique<dist::Timeline>(world);
    moe_->set_timeline(timeline_.get());
  }
  model.set_moe_runner(moe_.get());
  model_ = &model;
}

ExpertParallelRun::~ExpertParallelRun() {
  if (model_) model_->set_moe_runner(nullptr);
}

void ExpertParallelRun::write_profile() const {
  if (!timeline_) return;
  timeline_->write(profile_path_);
  const char* kinds[] = {"compute", "communication", "wait"};
  std::vector<double> mine;
  for (const char* k : kinds) mine.push_back(timeline_->total_us(k) / 1000);
  const std::vector<double> all = dist::world().all_gather(mine);
  if (dist::world().rank() != 0) return;
  std::fprintf(stderr, "profile: %s (Chrome trace-event JSON; open in Perfetto or chrome://tracing)\n", profile_path_.c_str());
  for (int r = 0; r < dist::world().size(); ++r)
    std::fprintf(stderr, "  rank %d: compute %.1f ms, communication %.1f ms, waiting for dispatched rows %.1f ms\n", r,
                 all[size_t(r) * 3], all[size_t(r) * 3 + 1], all[size_t(r) * 3 + 2]);
}

void ExpertParallelRun::print_stats(const Model& model) const {
  if (!active()) return;
  dist::Communicator& g = *groups_->expert;
  const dist::ExchangeStats& s = moe_->stats();
  // Per rank: RSS, peak RSS, bytes dispatched, combined, metadata, rows through MoE layers.
  const dist::ExpertResidency res = dist::expert_residency(model.weights(), moe_->placement());
  const std::vector<int64_t> mine{status_kb("VmRSS:"), status_kb("VmHWM:"), s.dispatch_bytes, s.combine_bytes,
                                  s.meta_bytes, moe_->rows_through_layers(), moe_->gather_bytes(),
                                  res.own_resident, res.own_bytes, res.other_resident, res.other_bytes};
  const std::vector<int64_t> all = g.all_gather(mine);
  if (g.rank() != 0) return;
  const ModelConfig& cfg = model.config();
  const Checkpoint& ck = *model.checkpoint();
  const double total = double(ck.total_bytes()), experts = double(expert_bytes(ck));
  const double expected = (total - experts + experts / g.size()) / 1048576.0;
  const int64_t per = moe_->placement().per_rank();
  std::fprintf(stderr, "expert parallel: %d ranks, %lld routed experts each; dense + 1/%d of the experts = %.1f MiB\n",
               g.size(), (long long)per, g.size(), expected);
  int64_t dispatched = 0, combined = 0, meta = 0, gathered = 0;
  for (int r = 0; r < g.size(); ++r) {
    const int64_t* v = &all[size_t(r) * mine.size()];
    std::fprintf(stderr,
                 "  rank %d: experts [%lld, %lld), RSS %.1f MiB, peak %.1f MiB; resident: own experts %.1f of %.1f MiB, "
                 "other ranks' experts %.2f of %.1f MiB\n",
                 r, (long long)(r * per), (long long)((r + 1) * per), double(v[0]) / 1024, double(v[1]) / 1024,
                 double(v[7]) / 1048576, double(v[8]) / 1048576, double(v[9]) / 1048576, double(v[10]) / 1048576);
    dispatched += v[2], combined += v[3], meta += v[4], gathered += v[6];
  }
  // Every rank sees every row (replicated attention): rows per layer call are the tokens.
  const double token_layers = double(std::max<int64_t>(all[5], 1));
  std::fprintf(stderr,
               "  sent per token per MoE layer: dispatch %.0f B, combine %.0f B, metadata %.0f B "
               "(top_k × hidden × 4 = %lld B); all-gather of the outputs %.0f B\n",
               double(dispatched) / token_layers, double(combined) / token_layers, double(meta) / token_layers,
               (long long)(cfg.num_experts_per_tok * cfg.hidden_size * 4), double(gathered) / token_layers);
}

}  // namespace dsv3::cli
