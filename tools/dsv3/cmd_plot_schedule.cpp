// dsv3 plot --trace / --schedule: a pipeline schedule drawn like the report's Figure 5, from a
// trace (simulated by dsv3 plan --trace, or measured) or simulated here from a schedule.
#include <cstdio>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "io/safetensors_writer.h"
#include "pipeline/calibrate.h"
#include "pipeline/schedule_svg.h"
#include "pipeline/simulate.h"
#include "pipeline/trace.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 plot --trace TRACE.json[,TRACE.json...] [--out PLOT.svg] [--title T] [--check]\n"
    "       dsv3 plot --schedule S --pp P --micro-batches M [--costs F,B,W,FB] [--forward-only] [--out PLOT.svg]\n"
    "                 [--trace-out TRACE.json] [--title T]\n"
    "Draws a pipeline schedule (ranks as rows, chunks coloured by micro-batch) and prints each\n"
    "rank's bubble fraction. S: 1f1b | zb1p | dualpipe | dualpipev; --costs are the chunk times of\n"
    "the simulation in ms (default 1,2,1,3: forward, full backward, its weight part, overlapped F&B).\n"
    "--check re-simulates a trace's schedule with F, B, W, F&B calibrated from it (medians of each\n"
    "kind; and the mean of each kind on each stage) and prints both simulated bubble fractions\n"
    "beside the measured one, and the replay's (every chunk its own measured time).\n";

void print_check(const pipeline::Trace& t) {
  const pipeline::BubbleCheck bc = pipeline::check_bubble(t);
  const pipeline::Costs& c = bc.costs;
  std::printf("calibrated: F %.3f ms, B %.3f ms, W %.3f ms, F&B %.3f ms\n"
              "rank  measured %%  simulated %%  per stage %%  replayed %%\n", c.f * 1e3, c.b * 1e3, c.w * 1e3, c.fb * 1e3);
  for (size_t r = 0; r < bc.measured.size(); ++r)
    std::printf("%4zu %11.2f %12.2f %12.2f %11.2f\n", r, 100 * bc.measured[r], 100 * bc.simulated[r],
                100 * bc.simulated_per_stage[r], 100 * bc.replayed[r]);
  std::printf("mean %10.2f %12.2f %12.2f %11.2f\n", 100 * bc.measured_mean, 100 * bc.simulated_mean,
              100 * bc.per_stage_mean, 100 * bc.replayed_mean);
}

pipeline::Costs parse_costs(const std::string& text) {
  const auto items = split_list(text);
  if (items.size() != 4) fail("--costs needs four numbers F,B,W,FB, got '", text, "'");
  double v[4];
  for (size_t i = 0; i < 4; ++i) {
    char* end = nullptr;
    v[i] = std::strtod(items[i].c_str(), &end);
    if (*end || !(v[i] >= 0)) fail("--costs: '", items[i], "' is not a non-negative number");
  }
  if (v[2] > v[1]) fail("--costs: W (", v[2], ") is part of the full backward B (", v[1], ") and cannot exceed it");
  return {v[0] / 1e3, v[1] / 1e3, v[2] / 1e3, v[3] / 1e3, 0};  // milliseconds
}

}  // namespace

int cmd_plot_schedule(int argc, char** argv) {
  const Args a(argc, argv, {"trace", "schedule", "pp", "micro-batches", "costs", "out", "trace-out", "title"}, {"help", "check", "forward-only"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  if (a.has("trace") == a.has("schedule")) fail("give one of --trace FILE or --schedule S");
  pipeline::Trace trace;
  std::string title = a.str("title");
  if (a.has("trace")) {
    trace = pipeline::read_trace_files(split_list(a.str("trace")));
    if (title.empty()) title = "pipeline trace " + a.str("trace");
  } else {
    const int64_t pp = a.integer("pp", 0), m = a.integer("micro-batches", 0);
    if (pp < 1 || pp > 1024 || m < 1 || m > 1 << 16) fail("--pp and --micro-batches are required (1..1024, 1..65536)");
    const pipeline::Schedule s =
        pipeline::make_schedule(pipeline::parse_schedule_kind(a.str("schedule")), int(pp), int(m), a.has("forward-only"));
    const pipeline::Timeline tl = pipeline::simulate(s, parse_costs(a.str("costs", "1,2,1,3")));
    if (a.has("trace-out")) write_file_atomic(a.str("trace-out"), pipeline::trace_json(s, tl));
    trace = pipeline::make_trace(s, tl);
    if (title.empty()) title = cat(pipeline::schedule_name(s.kind), ": ", pp, " ranks, ", m, " micro-batches");
  }
  std::fputs(pipeline::bubble_table(trace).c_str(), stdout);
  if (a.has("check")) print_check(trace);
  if (a.has("out")) {
    write_file_atomic(a.str("out"), pipeline::trace_svg(trace, title));
    std::printf("wrote %s\n", a.str("out").c_str());
  }
  return 0;
}

}  // namespace dsv3::cli
