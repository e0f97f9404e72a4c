#include "eval/report.h"

#include <cstdio>

#include "core/error.h"
#include "io/json_file.h"

namespace dsv3::eval {

namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

Metric proportion_metric(const std::string& name, int64_t successes, int64_t n) {
  return {name, n ? double(successes) / double(n) : 0.0, n, wilson_interval(successes, n), "wilson"};
}

nlohmann::ordered_json metric_json(const Metric& m) {
  return {{"metric", m.name}, {"value", m.value}, {"n", m.n}, {"ci", {m.ci.lo, m.ci.hi}}, {"ci_method", m.ci_method}};
}

nlohmann::ordered_json report_json(const Report& r) {
  if (r.metrics.empty()) fail("an evaluation report without a metric");
  nlohmann::ordered_json j = metric_json(r.metrics.front());
  j["task"] = r.task;
  j["kind"] = r.kind;
  j["metrics"] = nlohmann::ordered_json::array();
  for (const Metric& m : r.metrics) j["metrics"].push_back(metric_json(m));
  j["failed"] = r.failures.size();
  j["failures"] = nlohmann::ordered_json::array();
  for (const Failure& f : r.failures) j["failures"].push_back({{"line", f.line}, {"reason", f.reason}});
  for (auto it = r.detail.begin(); it != r.detail.end(); ++it) j[it.key()] = nlohmann::ordered_json::parse(it.value().dump());
  return j;
}

std::string report_markdown(const Report& r) {
  std::string s = cat("| task | metric | value | 95% CI | n |\n|---|---|---|---|---|\n");
  for (const Metric& m : r.metrics) {
    const int d = m.name == "perplexity" ? 3 : 4;
    s += cat("| ", r.task, " | ", m.name, " | ", fixed(m.value, d), " | [", fixed(m.ci.lo, d), ", ", fixed(m.ci.hi, d),
             "] (", m.ci_method, ") | ", m.n, " |\n");
  }
  if (!r.failures.empty()) s += cat("\n", r.failures.size(), " sample(s) scored as failed, e.g. line ", r.failures[0].line, ": ", r.failures[0].reason, "\n");
  if (!r.detail_markdown.empty()) s += "\n" + r.detail_markdown;
  return s;
}

}  // namespace dsv3::eval
