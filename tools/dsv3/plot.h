// `dsv3 plot`: an SVG of one or more training runs read from their metrics.jsonl — the loss
// curves (training main / MTP loss, held-out loss) and the expert-load balance (max/mean load)
// per MoE layer, or per run when several are compared.
#pragma once
#include <string>
#include <vector>

#include "io/json_file.h"

namespace dsv3 {

struct RunMetrics {
  std::string label;
  std::vector<json> lines;  // the objects of metrics.jsonl, in order
};

RunMetrics read_metrics(const std::string& path, const std::string& label);  // throws Error naming the file

// smooth: moving-average window over steps for the training curves (1: none).
std::string metrics_svg(const std::vector<RunMetrics>& runs, const std::string& title, int smooth);

// A table, one row per run: the last evaluation, and over the last `last` training steps the
// mean main / MTP loss and the mean (over layers) and worst per-layer max/mean expert load.
std::string metrics_summary(const std::vector<RunMetrics>& runs, int last);

}  // namespace dsv3
