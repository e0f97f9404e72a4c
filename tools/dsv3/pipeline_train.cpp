#include "pipeline_train.h"

#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/hash.h"
#include "pipeline/layer_cost.h"
#include "pipeline/stages.h"
#include "pipeline/trace.h"
#include "train/params.h"

namespace dsv3::cli {

namespace {

void set_micro_batches(const Args& a, TrainOptions& opt, int64_t seq_len) {
  if (!a.has("micro-batches")) return;
  const int64_t m = a.integer("micro-batches", 0);
  if (m < 1) fail("option --micro-batches must be >= 1");
  const int64_t tokens = m * opt.micro_batch * seq_len;
  if (opt.batch_tokens > 0 && opt.batch_tokens != tokens)
    fail("--batch-tokens ", opt.batch_tokens, " disagrees with --micro-batches ", m, " x --micro-batch ", opt.micro_batch,
         " x --seq-len ", seq_len, " = ", tokens);
  opt.batch_tokens = tokens;
}

}  // namespace

// Per rank: the trained values it holds, the bytes of its master weights, gradient and AdamW
// moments (the buffers' sizes), and its peak resident memory as the kernel measured it.
void PipelineTrainRun::print_memory(const Trainer& trainer) {
  rusage use{};
  getrusage(RUSAGE_SELF, &use);
  const int64_t n = trainer.layout().n_params();
  const int64_t bytes = 2 * n * int64_t(sizeof(float)) + trainer.optimizer_bytes();
  const std::vector<int64_t> all = groups_->pipeline->all_gather(std::vector<int64_t>{n, bytes, int64_t(use.ru_maxrss)});
  if (!output_rank()) return;
  const double whole = double(ParamLayout(trainer.layout().config()).n_params());
  for (size_t r = 0; 3 * r < all.size(); ++r)
    std::fprintf(stderr, "pipeline rank %zu: %lld of %.0f parameters (%.1f%%); weights, gradient and AdamW %.2f MiB; peak RSS %.1f MiB\n",
                 r, (long long)all[3 * r], whole, 100.0 * double(all[3 * r]) / whole, double(all[3 * r + 1]) / (1 << 20),
                 double(all[3 * r + 2]) / 1024);
}

PipelineTrainRun::PipelineTrainRun(const Args& a, const ModelConfig& cfg, TrainOptions& opt, int64_t seq_len) {
  set_micro_batches(a, opt, seq_len);
  for (const char* o : {"schedule", "stage-layers", "trace"})
    if (a.has(o) && !a.has("pp")) fail("--", o, " needs --pp (pipeline parallelism)");
  if (!a.has("pp")) {  // one process, or data parallelism (train/data_parallel.h)
    if (std::filesystem::exists(pipeline::pp_commit_path(a.str("out"))))
      fail(a.str("out"), " holds the checkpoint of a pipeline run: resume it with the same --pp and --schedule");
    return;
  }
  dist::Communicator& world = dist::world();
  dist::quiet_other_ranks();
  if (a.has("measure-overlap") && a.integer("ep", 1) < 2)
    dist::fail_on_every_rank("--measure-overlap measures the expert all-to-alls: it needs --ep");
  // With --ep, DualPipe's paired chunks make their MPI calls from two threads, one at a time.
  if (a.integer("ep", 1) > 1)
    if (const std::string why = dist::serialized_threads_problem(dist::world_thread_level()); !why.empty())
      dist::fail_on_every_rank(why);
  const std::string what = cat(a.str("schedule", "1f1b"), '/', a.str("stage-layers"), '/', opt.accumulation(seq_len));
  dist::check_same_everywhere(world, fnv1a(what.data(), what.size()), "--schedule, --stage-layers or --micro-batches");
  groups_ = std::make_unique<dist::Groups>(
      dist::make_groups(world, {opt.dp, int(a.integer("pp", 0)), int(a.integer("ep", 1))}));
  // Every rank reaches here with the same options, so a bad one fails on all of them at once.
  try {
    const int P = groups_->layout.pp;
    const pipeline::ScheduleKind kind = pipeline::parse_schedule_kind(a.str("schedule", "1f1b"));
    const int64_t A = opt.accumulation(seq_len);  // over every pipeline: each runs A / dp per step
    if (A % opt.dp != 0) fail("--micro-batches ", A, " does not split over --dp ", opt.dp, " pipelines");
    const int E = groups_->layout.ep;
    if (cfg.n_routed_experts % E != 0)
      fail("--ep ", E, " does not divide the ", cfg.n_routed_experts, " routed experts (each rank must own the same number)");
    pipeline::Schedule s = pipeline::make_schedule(kind, P, int(A / opt.dp));
    const int layers = int(cfg.num_hidden_layers);
    const std::vector<int> stage_layers =
        a.has("stage-layers") ? pipeline::parse_stage_layers(a.str("stage-layers"), s.stages, layers)
                              : pipeline::balanced_stage_layers(pipeline::model_cost(cfg, seq_len), s.stages);
    pipeline::simulate(s, pipeline::Costs{}, /*rendezvous=*/true);  // complete, paired, deadlock-free
    params_ = std::make_unique<pipeline::StageParams>(cfg, s, stage_layers, *groups_->pipeline, data_group(),
                                                      rank_experts(cfg, opt.dp, expert_group()));
    exec_ = std::make_unique<pipeline::PipelineExecutor>(std::move(s), stage_layers, *groups_->pipeline, cfg,
                                                         opt.precision, *params_, expert_group());
    exec_->measure_overlap(a.has("measure-overlap"));
    if (output_rank())
      std::fprintf(stderr, "pipeline: %s\n", pipeline::placement_text(exec_->schedule(), stage_layers).c_str());
  } catch (const Error& e) {
    dist::fail_on_every_rank(e.what());
  }
  trace_path_ = a.str("trace");
  measure_overlap_ = a.has("measure-overlap");
}

PipelineTrainRun::~PipelineTrainRun() = default;

void PipelineTrainRun::attach(Trainer& trainer) {
  if (!active()) return;
  pipeline::PipelineExecutor* exec = exec_.get();
  trainer.set_micro_batch_runner(
      [exec](const std::vector<TokenRows>& batches, const ModelWeights& w, const Objective& obj, const LossNorm& norm,
             const float* base, PairwiseSum* grads) {
        return grads ? exec->step(batches, w, obj, norm, base, *grads) : exec->evaluate(batches, w, obj, norm);
      },
      output_rank());
}

// The F&B pairs' waits for their expert all-to-alls, interleaved and not, summed over every rank.
void PipelineTrainRun::print_overlap() {
  const pipeline::PipelineExecutor::OverlapTimes& t = exec_->overlap_times();
  std::vector<double> v = {t.wait_s[0], t.wait_s[1], double(t.pairs[0]), double(t.pairs[1])};
  dist::world().all_reduce(v.data(), int64_t(v.size()));
  if (!output_rank()) return;
  if (v[2] == 0 || v[3] == 0) {
    std::fprintf(stderr, "overlap: nothing to compare (F&B pairs ran %.0f times interleaved, %.0f not: two steps of "
                         "DualPipe needed)\n", v[3], v[2]);
    return;
  }
  const double alone = v[0] / v[2], paired = v[1] / v[3];
  std::fprintf(stderr,
               "overlap: an F&B pair waits %.3f ms for its expert all-to-alls with its chunks interleaved, %.3f ms "
               "run one after the other (%.0f and %.0f pairs over all ranks): %.0f%% of the wait hidden\n",
               paired * 1e3, alone * 1e3, v[3], v[2], 100.0 * (1.0 - paired / alone));
}

void PipelineTrainRun::finish(const Trainer& trainer) {
  if (!active()) return;
  print_memory(trainer);
  if (measure_overlap_) print_overlap();
  if (trace_path_.empty()) return;
  const pipeline::Timeline t = exec_->gather_timeline();
  if (!output_rank()) return;
  const pipeline::Schedule& s = exec_->schedule();
  std::ofstream out(trace_path_);
  out << pipeline::trace_json(s, t);
  if (!out) fail("cannot write the trace to ", trace_path_);
  std::fprintf(stderr, "trace of the last step: %s (%.1f ms)\n", trace_path_.c_str(), t.makespan * 1e3);
  for (int r = 0; r < s.ranks; ++r)
    std::fprintf(stderr, "  rank %d: busy %.1f ms, bubble %.1f%%\n", r, t.busy[size_t(r)] * 1e3,
                 100.0 * t.bubble(r) / t.makespan);
}

}  // namespace dsv3::cli
