// The trainer's output: a progress line on stderr and one JSON object per line in
// <out>/metrics.jsonl (read by `dsv3 plot`).
#include <cstdio>
#include <fstream>

#include "io/json_file.h"
#include "train/balance.h"
#include "train/trainer.h"

namespace dsv3 {

namespace {

std::string duration(double s) {
  char buf[32];
  const int64_t t = int64_t(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(t / 3600), (long long)(t / 60 % 60));
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
  return buf;
}

void append_line(const std::string& path, const json& j) {
  std::ofstream out(path, std::ios::app);
  out << j.dump() << "\n";
}

}  // namespace

void Trainer::log_step(const StepLosses& l, double grad_norm, double lr, double seconds) {
  const int64_t tokens = opt_.accumulation(data_.train.T) * opt_.micro_batch * data_.train.T;
  const std::vector<double> lm = load_max_over_mean(l.load);
  double worst = 0, mean = 0;
  for (double x : lm) {
    worst = std::max(worst, x);
    mean += x / double(lm.size());
  }
  json j = {{"step", st_.step},      {"lr", lr},           {"loss", l.total},       {"main", l.main},
            {"mtp", l.mtp},          {"balance", l.balance}, {"grad_norm", grad_norm}, {"tokens", st_.tokens},
            {"tok_s", double(tokens) / seconds}, {"elapsed_s", st_.elapsed_s}, {"load_max_mean", lm}};
  if (hook_metrics_.is_object()) j.update(hook_metrics_);
  append_line(out_ + "/metrics.jsonl", j);
  if (opt_.log_every <= 0 || (st_.step % opt_.log_every != 0 && st_.step != opt_.steps)) return;
  if (hook_metrics_.is_object() && !hook_metrics_.empty())
    std::fprintf(stderr, "step %lld | %s\n", (long long)st_.step, hook_metrics_.dump().c_str());
  const double eta = run_seconds_ / double(run_steps_) * double(opt_.steps - st_.step);
  std::fprintf(stderr,
               "step %lld/%lld | loss %.4f main %.4f mtp %.4f bal %.5f | lr %.2e gnorm %.3f | %.0f tok/s | "
               "load max/mean %.2f (worst layer %.2f) | ETA %s\n",
               (long long)st_.step, (long long)opt_.steps, l.total, l.main, l.mtp, l.balance, lr, grad_norm,
               double(tokens) / seconds, mean, worst, duration(eta).c_str());
}

// Collective over the data group: every rank's dispatch times, summed.
void Trainer::report_overlap() {
  const ExpertParallelTraining::OverlapTimes& t = ep_->overlap_times();
  std::vector<double> v = {t.exposed_s[0], t.exposed_s[1], double(t.calls[0]), double(t.calls[1])};
  data_group_->all_reduce(v.data(), int64_t(v.size()));
  if (!main_rank() || v[2] == 0 || v[3] == 0) return;
  const double in_flight = v[0] / v[2], waited = v[1] / v[3];
  std::fprintf(stderr,
               "overlap: the MoE dispatch costs %.3f ms per layer outside computation with the shared expert computed "
               "while the rows are in flight, %.3f ms when waiting for them first (%.0f and %.0f calls over all ranks): "
               "%.0f%% of it hidden\n",
               in_flight * 1e3, waited * 1e3, v[2], v[3], 100.0 * (1.0 - in_flight / waited));
}

void Trainer::log_eval(const EvalResult& e) {
  if (e.sequences == 0) return;
  append_line(out_ + "/metrics.jsonl",
              {{"step", st_.step},
               {"eval", {{"main", e.main}, {"perplexity", e.perplexity}, {"mtp", e.mtp}, {"main_acc", e.main_acc},
                         {"mtp_acc", e.mtp_acc}, {"sequences", e.sequences}, {"tokens", e.tokens}}}});
  std::fprintf(stderr, "eval step %lld | val loss %.4f ppl %.2f acc %.3f | mtp loss %.4f mtp top-1 %.3f (%lld sequences)\n",
               (long long)st_.step, e.main, e.perplexity, e.main_acc, e.mtp, e.mtp_acc, (long long)e.sequences);
}

}  // namespace dsv3
