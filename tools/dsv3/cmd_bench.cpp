// dsv3 bench: prefill and decode speed of a model, each against the machine's own measured
// limits. Decode reads every active weight once per step, so its ceiling is memory read
// bandwidth; prefill multiplies each weight by many tokens, so its ceiling is FMA throughput.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cli_args.h"
#include "expert_parallel_run.h"
#include "commands.h"
#include "core/error.h"
#include "kernels/machine_limits.h"
#include "model/param_count.h"
#include "model_path.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 bench [--model DIR] [--prompt-tokens P] [--decode-steps S] [--batch B] [--threads N]\n"
    "Measures prefill (P tokens) and decode (S steps at batch 1 and batch B) and prints them\n"
    "with the machine's measured read bandwidth and float32 FMA peak.\n";

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> bench_tokens(int64_t n, int64_t vocab) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(int32_t((i * 7919 + 17) % vocab));
  return t;
}

// Seconds for one prefill of `prompt` tokens in a fresh cache (best of `reps`).
double time_prefill(const Model& m, int64_t prompt, int reps) {
  const auto toks = bench_tokens(prompt, m.config().vocab_size);
  std::vector<float> h(static_cast<size_t>(prompt * m.config().hidden_size));
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    SequenceCache c = m.new_cache();
    SequenceCache* cs[] = {&c};
    TokenBatch b;
    for (int64_t i = 0; i < prompt; ++i) b.add(toks[size_t(i)], int32_t(i), 0);
    const auto t0 = std::chrono::steady_clock::now();
    m.forward(b, cs, h.data());
    best = std::min(best, seconds(t0));
  }
  return best;
}

// Seconds per decode step with `batch` sequences, each after a `context`-token prefill.
double time_decode(const Model& m, int64_t batch, int64_t context, int64_t steps) {
  const ModelConfig& c = m.config();
  std::vector<SequenceCache> caches(static_cast<size_t>(batch), m.new_cache());
  std::vector<SequenceCache*> cs;
  for (auto& x : caches) cs.push_back(&x);
  const auto toks = bench_tokens(context + steps, c.vocab_size);
  TokenBatch pre;
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t i = 0; i < context; ++i) pre.add(toks[size_t(i)], int32_t(i), int32_t(s));
  std::vector<float> h(static_cast<size_t>(pre.size() * c.hidden_size)), logits(static_cast<size_t>(batch * c.vocab_size));
  m.forward(pre, cs.data(), h.data());
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t step = 0; step < steps; ++step) {
    TokenBatch b;
    for (int64_t s = 0; s < batch; ++s) b.add(toks[size_t(context + step)], int32_t(context + step), int32_t(s));
    m.forward(b, cs.data(), h.data());
    m.logits(logits.data(), h.data(), batch);  // decoding needs the logits: the head is part of a step
  }
  return seconds(t0) / double(steps);
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  const Args a(argc, argv, {"model", "prompt-tokens", "decode-steps", "batch", "threads", "ep", "profile"}, {"help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), std::fputs(kEpUsage, stdout), 0;
  apply_threads(a);
  const int64_t prompt = a.integer("prompt-tokens", 128), steps = a.integer("decode-steps", 32);
  const int64_t batch = a.integer("batch", 8);
  if (prompt < 1 || steps < 1 || batch < 1) fail("--prompt-tokens, --decode-steps and --batch must be >= 1");
  const std::string dir = resolve_model_dir(a.str("model"));
  const auto model = load_model(dir);
  const ExpertParallelRun ep(a, *model, dir);  // --ep N under mpirun (docs/distributed.md)
  if (prompt + steps > model->config().max_position_embeddings) fail("--prompt-tokens + --decode-steps exceed the context");

  const MachineLimits lim = measure_machine_limits();
  const ParamCount pc = count_params(*model);
  // Matrix FLOPs per token: two per active weight (attention's score/value terms come on top).
  const double flops_per_token = 2.0 * double(pc.active);

  const double t_prefill = time_prefill(*model, prompt, 3);
  const double t_dec1 = time_decode(*model, 1, prompt, steps);
  const double t_decb = time_decode(*model, batch, prompt, steps);

  std::printf("dsv3 bench --model %s --prompt-tokens %lld --decode-steps %lld --batch %lld\n", dir.c_str(),
              (long long)prompt, (long long)steps, (long long)batch);
  std::printf("machine: %s, %d threads, kernels %s\n", lim.cpu.c_str(), lim.threads, lim.isa.c_str());
  std::printf("measured limits: read %.1f GB/s, float32 FMA %.1f GFLOP/s\n", lim.read_gbs, lim.peak_gflops);
  std::printf("model: %.3g active parameters per token, %.3g MB of weights read per decoded token\n\n",
              double(pc.active), double(pc.active_bytes) / 1e6);
  std::printf("%-26s %12s %12s %14s %10s\n", "phase", "tokens/s", "GB/s", "GFLOP/s", "of limit");
  const double pre_tps = double(prompt) / t_prefill;
  std::printf("%-26s %12.1f %12s %14.1f %9.1f%%\n", cat("prefill ", prompt, " tokens").c_str(), pre_tps, "-",
              pre_tps * flops_per_token / 1e9, 100.0 * pre_tps * flops_per_token / 1e9 / lim.peak_gflops);
  for (const auto& [b, t] : {std::pair<int64_t, double>{1, t_dec1}, {batch, t_decb}}) {
    const double tps = double(b) / t;
    const double gbs = double(pc.active_bytes) / t / 1e9;  // weights read once per step for the batch
    std::printf("%-26s %12.1f %12.2f %14.1f %9.1f%%\n", cat("decode batch ", b, " (ctx ", prompt, ")").c_str(), tps,
                gbs, tps * flops_per_token / 1e9, 100.0 * gbs / lim.read_gbs);
  }
  std::printf("\nof limit: prefill against the FMA peak, decode against read bandwidth (weights read per step).\n");
  std::fflush(stdout);
  ep.print_stats(*model);
  ep.write_profile();
  return 0;
}

}  // namespace dsv3::cli
