// dsv3 plan: memory, pipeline bubble, all-to-all traffic and training throughput of a model on a
// cluster, for each pipeline schedule (see docs/pipeline.md).
#include <cstdio>
#include <filesystem>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "io/safetensors_writer.h"
#include "model/config.h"
#include "pipeline/planner.h"
#include "pipeline/simulate.h"
#include "pipeline/trace.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 plan (--config CFG.json | --model DIR) --pp P --ep E [--dp D] [--micro-batches M |\n"
    "                 --global-batch SEQS] [--micro-batch-seqs N] [--seq-len T] [--schedule S]\n"
    "                 [--stage-layers A,B,...] [--devices N] [--devices-per-node N] [--tflops X]\n"
    "                 [--efficiency X] [--memory-gb X] [--nvlink-gbs X] [--ib-gbs X]\n"
    "                 [--print-schedule] [--trace FILE.json]\n"
    "S: dualpipe (default) | dualpipev | zb1p | 1f1b. Defaults are the DeepSeek-V3 report's cluster:\n"
    "2048 devices, 8 per node, 989 TFLOP/s, 80 GB, NVLink 160 GB/s, InfiniBand 50 GB/s.\n"
    "--trace writes the chosen schedule's simulated step as Chrome trace-event JSON (dsv3 plot --trace).\n";

int positive(const Args& a, const char* name, int64_t fallback) {
  const int64_t v = a.integer(name, fallback);
  if (v < 0 || v > (int64_t(1) << 30)) fail("option --", name, " must be a non-negative integer, got ", v);
  return int(v);
}

double positive_number(const Args& a, const char* name, double fallback) {
  const double v = a.number(name, fallback);
  if (!(v > 0)) fail("option --", name, " must be > 0");
  return v;
}

}  // namespace

int cmd_plan(int argc, char** argv) {
  const Args a(argc, argv,
               {"config", "model", "pp", "ep", "dp", "micro-batches", "global-batch", "micro-batch-seqs", "seq-len",
                "schedule", "stage-layers", "devices", "devices-per-node", "tflops", "efficiency", "memory-gb",
                "nvlink-gbs", "ib-gbs", "trace"},
               {"help", "print-schedule"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  if (a.has("config") == a.has("model")) fail("give one of --config CFG.json or --model DIR");
  const std::string cfg_path = a.has("config") ? a.str("config") : a.str("model") + "/config.json";
  const ModelConfig cfg = load_config(cfg_path);

  pipeline::Cluster cl;
  cl.devices = positive(a, "devices", cl.devices);
  cl.devices_per_node = positive(a, "devices-per-node", cl.devices_per_node);
  cl.peak_tflops = positive_number(a, "tflops", cl.peak_tflops);
  cl.efficiency = positive_number(a, "efficiency", cl.efficiency);
  cl.memory_gb = positive_number(a, "memory-gb", cl.memory_gb);
  cl.nvlink_gbs = positive_number(a, "nvlink-gbs", cl.nvlink_gbs);
  cl.ib_gbs = positive_number(a, "ib-gbs", cl.ib_gbs);
  if (cl.devices < 1 || cl.devices_per_node < 1) fail("--devices and --devices-per-node must be >= 1");
  if (cl.efficiency > 1) fail("--efficiency is a fraction of peak, at most 1");

  pipeline::Parallel par;
  par.pp = positive(a, "pp", 1);
  par.ep = positive(a, "ep", 1);
  par.dp = positive(a, "dp", 0);
  par.micro_batches = positive(a, "micro-batches", 0);
  par.global_batch = positive(a, "global-batch", 0);
  par.micro_batch_seqs = positive(a, "micro-batch-seqs", 1);
  par.seq_len = positive(a, "seq-len", 4096);
  par.schedule = pipeline::parse_schedule_kind(a.str("schedule", "dualpipe"));
  par.stage_layers = a.str("stage-layers");
  if (a.has("dp") && !a.has("devices")) cl.devices = par.pp * par.dp;

  const pipeline::Plan plan = pipeline::make_plan(cfg, cl, par);
  std::printf("plan for %s\n%s", cfg_path.c_str(), pipeline::plan_text(plan).c_str());
  const pipeline::SchedulePlan& chosen = plan.schedules.front();
  if (a.has("print-schedule") || a.has("trace")) {
    const pipeline::Schedule s = pipeline::make_schedule(par.schedule, plan.par.pp, plan.par.micro_batches);
    if (a.has("print-schedule")) std::printf("\n%s", pipeline::schedule_text(s, false).c_str());
    if (a.has("trace")) {
      const pipeline::Costs costs{chosen.f, chosen.b, chosen.w, chosen.fb, 0};
      write_file_atomic(a.str("trace"), pipeline::trace_json(s, pipeline::simulate(s, costs)));
      std::printf("wrote %s\n", a.str("trace").c_str());
    }
  }
  return 0;
}

}  // namespace dsv3::cli
