// The result of one dsv3 eval run: its metrics with 95% intervals, the samples that failed and
// why, and kind-specific detail (perplexity by position, the passkey grid), printed as a
// markdown table or, with --json, as one JSON object whose first fields are the primary
// metric: {"metric", "value", "n", "ci": [lo, hi], "ci_method", ...}.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "io/json_file.h"

namespace dsv3::eval {

struct Metric {
  std::string name;  // accuracy, acc_norm, exact_match, pass@k, perplexity, passkey
  double value = 0;
  int64_t n = 0;     // items (or scored tokens, for perplexity) behind the value
  Interval ci;
  std::string ci_method;  // wilson, bootstrap, normal
};

// A sample scored as failed for a reason other than a wrong answer (prompt over the context).
struct Failure {
  int64_t line = 0;  // task-file line (0 when generated, as passkey prompts are)
  std::string reason;
};

struct Report {
  std::string task, kind;
  std::vector<Metric> metrics;  // metrics[0] is the primary one
  std::vector<Failure> failures;
  json detail = json::object();  // merged into the JSON object
  std::string detail_markdown;   // printed after the metrics table
};

// Ordered: the primary metric's fields come first when printed.
nlohmann::ordered_json metric_json(const Metric& m);
nlohmann::ordered_json report_json(const Report& r);
std::string report_markdown(const Report& r);

// Proportion metric with its Wilson interval.
Metric proportion_metric(const std::string& name, int64_t successes, int64_t n);

}  // namespace dsv3::eval
