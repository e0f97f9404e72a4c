// dsv3 plot: an SVG of training runs' loss curves and expert-load balance (from metrics.jsonl).
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "dist/timeline_svg.h"
#include "io/safetensors_writer.h"
#include "plot.h"

namespace fs = std::filesystem;

namespace dsv3::cli {

namespace {
const char* kUsage =
    "usage: dsv3 plot --metrics RUN[,RUN...] (--out PLOT.svg | --summary K) [--labels A,B] [--title T] [--smooth 1]\n"
    "RUN is a training folder or its metrics.jsonl. One run: loss curves and max/mean expert load\n"
    "of every MoE layer; several: their main losses and mean balance overlaid. --summary K prints\n"
    "a table instead: the last evaluation and the means over the last K steps.\n"
    "Pipeline schedules and traces: dsv3 plot --trace FILE | --schedule S ... (dsv3 plot --trace x --help).\n"
    "       dsv3 plot --profile TRACE.json --out TIMELINE.svg [--from MS --to MS] [--title T]\n"
    "draws a --profile trace of generate/logits/bench: one lane per rank, spans coloured by\n"
    "compute/communication/wait.\n"
    "       dsv3 plot --needle EVAL.json --out GRID.svg   (the grid of dsv3 eval --kind passkey --json)\n";

}  // namespace

int cmd_plot(int argc, char** argv) {
  for (int i = 0; i < argc; ++i)  // passkey grids of dsv3 eval: cmd_plot_needle.cpp
    if (!std::strcmp(argv[i], "--needle")) return cmd_plot_needle(argc, argv);
  for (int i = 0; i < argc; ++i)  // pipeline schedules: cmd_plot_schedule.cpp
    if (!std::strcmp(argv[i], "--trace") || !std::strcmp(argv[i], "--schedule")) return cmd_plot_schedule(argc, argv);
  const Args a(argc, argv, {"metrics", "out", "labels", "title", "smooth", "summary", "profile", "from", "to"}, {"help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  if (a.has("profile")) {  // a --profile timeline (docs/distributed.md)
    const std::string out = a.required("out");
    write_file_atomic(out, dist::trace_svg(read_json_file(a.str("profile")), a.number("from", 0), a.number("to", 0),
                                           a.str("title", "dsv3 --profile: " + a.str("profile"))));
    std::printf("wrote %s\n", out.c_str());
    return 0;
  }
  const auto paths = split_list(a.required("metrics"));
  const auto labels = split_list(a.str("labels"));
  if (!labels.empty() && labels.size() != paths.size()) fail("--labels needs one label per run");
  const int64_t smooth = a.integer("smooth", 1);
  if (smooth < 1) fail("option --smooth must be >= 1");
  std::vector<RunMetrics> runs;
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string p = fs::is_directory(paths[i]) ? paths[i] + "/metrics.jsonl" : paths[i];
    runs.push_back(read_metrics(p, labels.empty() ? fs::path(paths[i]).filename().string() : labels[i]));
  }
  if (a.has("summary")) {
    const int64_t k = a.integer("summary", 0);
    if (k < 1) fail("option --summary must be >= 1");
    std::fputs(metrics_summary(runs, int(k)).c_str(), stdout);
    if (!a.has("out")) return 0;
  }
  const std::string out = a.required("out");
  write_file_atomic(out, metrics_svg(runs, a.str("title", "dsv3 training"), int(smooth)));
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace dsv3::cli
