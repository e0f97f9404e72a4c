// dsv3 bench: prefill and decode speed of a model, each against the machine's own measured
// limits, in the manner of llama-bench (-p prefill tokens, -n decoded tokens, -d cached tokens
// before each test, -r repetitions reported as mean ± standard deviation). Decode reads every
// active weight once per step, so its ceiling is memory read bandwidth; prefill multiplies each
// weight by many tokens, so its ceiling is the arithmetic peak of the instructions it runs on.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli_args.h"
#include "expert_parallel_run.h"
#include "commands.h"
#include "core/error.h"
#include "kernels/kquant.h"
#include "kernels/quant_linear.h"
#include "kernels/linear.h"
#include "core/huge_pages.h"
#include "kernels/machine_limits.h"
#include "kernels/profile.h"
#include "model/param_count.h"
#include "model_path.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 bench [--model DIR] [-p|--prompt-tokens P] [-n|--decode-steps N] [-d|--depth D]\n"
    "                  [--batch B] [-r|--repetitions R] [-t|--threads T] [-o|--output text|md|json]\n"
    "                  [--cache-type f32|bf16|fp8] [--profile-ops]\n"
    "Times a prefill of P tokens (pp P) and N decode steps at batch 1 (tg N), each after D cached\n"
    "tokens, R times, and prints tokens/s as mean ± stddev with the machine's measured limits.\n"
    "P or N = 0 skips that test; --batch B > 1 adds decoding B sequences at once. --profile-ops adds a\n"
    "per-layer, per-operation timing of one decode run. --cache-type: the latent cache's storage.\n"
    "Defaults: -p 128 -n 32 -d 0 --batch 1 -r 3 --cache-type bf16.\n";

// llama-bench's short options, spelt as dsv3's long ones.
std::vector<std::string> long_options(int argc, char** argv) {
  static const char* kShort[][2] = {{"-p", "--prompt-tokens"}, {"-n", "--decode-steps"}, {"-d", "--depth"},
                                    {"-r", "--repetitions"},  {"-t", "--threads"},
                                    {"-o", "--output"},        {"-m", "--model"}};
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    for (const auto& s : kShort)
      if (a == s[0]) a = s[1];
    out.push_back(a);
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<int32_t> bench_tokens(int64_t n, int64_t vocab) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(int32_t((i * 7919 + 17) % vocab));
  return t;
}

struct Test {
  std::string name;  // "pp512", "tg128", "tg128 b8"; " @ d4096" when after cached tokens
  bool prefill;
  int64_t tokens, batch, depth;
};

// `batch` sequences, each holding the same `depth` cached tokens; truncated back to `depth`
// after every repetition, so the depth is prefilled once per test.
struct Sequences {
  std::vector<SequenceCache> caches;
  std::vector<SequenceCache*> ptrs;
  Sequences(const Model& m, int64_t batch, int64_t depth) {
    caches.assign(size_t(batch), m.new_cache());
    for (auto& c : caches) ptrs.push_back(&c);
    if (depth == 0) return;
    const auto toks = bench_tokens(depth, m.config().vocab_size);
    TokenBatch b;
    for (int64_t i = 0; i < depth; ++i) b.add(toks[size_t(i)], int32_t(i), 0);
    std::vector<float> h(size_t(depth * m.config().hidden_size));
    m.forward(b, ptrs.data(), h.data());
    for (size_t s = 1; s < caches.size(); ++s) caches[s] = caches[0];
  }
  void reset(int64_t depth) {
    for (auto& c : caches) c.truncate(depth);
  }
};

// Seconds for one run of the test (the caches start and end at `depth` tokens).
double run_test(const Model& m, const Test& t, Sequences& seqs) {
  const ModelConfig& c = m.config();
  const auto toks = bench_tokens(t.depth + t.tokens, c.vocab_size);
  seqs.reset(t.depth);
  double secs = 0;
  if (t.prefill) {
    TokenBatch b;
    for (int64_t i = 0; i < t.tokens; ++i) b.add(toks[size_t(t.depth + i)], int32_t(t.depth + i), 0);
    std::vector<float> h(size_t(t.tokens * c.hidden_size));
    const auto t0 = std::chrono::steady_clock::now();
    m.forward(b, seqs.ptrs.data(), h.data());
    secs = seconds_since(t0);
  } else {
    std::vector<float> h(size_t(t.batch * c.hidden_size)), logits(size_t(t.batch * c.vocab_size));
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t step = 0; step < t.tokens; ++step) {
      TokenBatch b;
      const int64_t pos = t.depth + step;
      for (int64_t s = 0; s < t.batch; ++s) b.add(toks[size_t(pos)], int32_t(pos), int32_t(s));
      m.forward(b, seqs.ptrs.data(), h.data());
      m.logits(logits.data(), h.data(), t.batch);  // decoding needs the logits: the head is part of a step
    }
    secs = seconds_since(t0);
  }
  seqs.reset(t.depth);
  return secs;
}

// The instructions a prefill's products run on, judged by the last layer's MLP (most of a
// prefill's multiply-adds): integer dot products (vpdpbusd, or vpmaddubsw where it stands in)
// for INT8, INT4, Q8_0, Q4_0 and K-quant weights, vdpbf16ps for BF16/FP8 under
// --prefill-math bf16, else float32 FMAs.
enum class PrefillUnit { F32, Bf16, Int8 };

PrefillUnit prefill_unit(const Model& m, const MachineLimits& lim) {
  const LayerWeights& last = m.weights().layers.back();
  const MlpWeights* mlp = last.is_moe ? nullptr : &last.mlp;
  for (const MlpWeights& e : last.moe.experts)  // under --ep a rank holds only some experts
    if (!mlp && !e.empty()) mlp = &e;
  const bool integer = mlp && (is_int_quantized(mlp->gate_proj) || is_kquant(mlp->gate_proj));
  if (integer && lim.int8_gops > 0) return PrefillUnit::Int8;
  return prefill_math() == PrefillMath::Bf16 && lim.bf16_gflops > 0 ? PrefillUnit::Bf16 : PrefillUnit::F32;
}

double prefill_peak(PrefillUnit u, const MachineLimits& lim) {
  return u == PrefillUnit::Int8 ? lim.int8_gops : u == PrefillUnit::Bf16 ? lim.bf16_gflops : lim.peak_gflops;
}

struct Result {
  Test test;
  double mean = 0, sd = 0;  // tokens/s over the repetitions
  double gbs = 0;           // decode: weights read per second (mean); prefill: 0
  double of_limit = 0;      // decode: of read bandwidth; prefill: of the FMA peak
};

Result measure(const Model& m, const Test& t, int reps, double bytes_per_step, double flops_per_token,
               const MachineLimits& lim) {
  Sequences seqs(m, t.batch, t.depth);
  // Warm-up, as llama-bench does it: a prefill the size of the test, a few steps of a decode. A
  // process's first large prefill touches its activation buffers for the first time, and the
  // page faults on that fresh memory are slow on a virtual machine: INT8 pp512 on 2 threads of
  // the AMD host ran at 390-440 tokens/s first, 1,240-1,290 after.
  run_test(m, {t.name, t.prefill, t.prefill ? t.tokens : std::min<int64_t>(t.tokens, 4), t.batch, t.depth}, seqs);
  std::vector<double> tps;
  for (int r = 0; r < reps; ++r) tps.push_back(double(t.tokens * t.batch) / run_test(m, t, seqs));
  Result res{t};
  for (double v : tps) res.mean += v / double(reps);
  for (double v : tps) res.sd += (v - res.mean) * (v - res.mean);
  res.sd = reps > 1 ? std::sqrt(res.sd / double(reps - 1)) : 0.0;
  if (t.prefill) {  // against the peak of the instructions the prefill runs on
    res.of_limit = res.mean * flops_per_token / 1e9 / prefill_peak(prefill_unit(m, lim), lim);
  } else {
    res.gbs = res.mean / double(t.batch) * bytes_per_step / 1e9;
    res.of_limit = res.gbs / lim.read_gbs;
  }
  return res;
}

// Per layer and operation, milliseconds per decode step of one profiled run of `t`.
void print_profile(const Model& m, const Test& t) {
  Sequences seqs(m, t.batch, t.depth);
  profile::take();
  profile::enable(true);
  const double secs = run_test(m, t, seqs);
  profile::enable(false);
  const auto entries = profile::take();
  const double steps = double(t.tokens);
  std::printf("\nprofile of %s: %.2f ms per step\n\n| layer | operation | ms/step | of step |\n|---|---|---|---|\n",
              t.name.c_str(), 1e3 * secs / steps);
  std::vector<std::pair<std::string, double>> totals;  // per operation, all layers
  for (const auto& e : entries) {
    const double ms = 1e3 * e.seconds / steps;
    std::printf("| %s | %s | %.3f | %.1f%% |\n", e.layer < 0 ? "-" : std::to_string(e.layer).c_str(), e.op.c_str(),
                ms, 100.0 * e.seconds / secs);
    auto it = std::find_if(totals.begin(), totals.end(), [&](const auto& p) { return p.first == e.op; });
    if (it == totals.end()) totals.push_back({e.op, ms});
    else it->second += ms;
  }
  std::printf("\n| operation (all layers) | ms/step | of step |\n|---|---|---|\n");
  for (const auto& [op, ms] : totals) std::printf("| %s | %.3f | %.1f%% |\n", op.c_str(), ms, 100.0 * ms / (1e3 * secs / steps));
}

std::string gbs_cell(const Result& r) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", r.gbs);
  return r.test.prefill ? "-" : b;
}

void print_text(const std::vector<Result>& rs) {
  std::printf("%-22s %20s %10s %10s\n", "test", "tokens/s", "GB/s", "of limit");
  for (const auto& r : rs)
    std::printf("%-22s %11.2f ± %6.2f %10s %9.1f%%\n", r.test.name.c_str(), r.mean, r.sd,
                gbs_cell(r).c_str(), 100.0 * r.of_limit);
}

const char* limits_note(PrefillUnit u) {
  return u == PrefillUnit::Int8 ? "of limit: prefill against the int8 dot-product peak, decode against read bandwidth (weights read per step)"
         : u == PrefillUnit::Bf16
             ? "of limit: prefill against the BF16 dot-product peak, decode against read bandwidth (weights read per step)"
             : "of limit: prefill against the float32 FMA peak, decode against read bandwidth (weights read per step)";
}

void print_markdown(const std::vector<Result>& rs, const std::string& model, int threads) {
  std::printf("| model | threads | test | t/s | GB/s | of limit |\n|---|---|---|---|---|---|\n");
  for (const auto& r : rs)
    std::printf("| %s | %d | %s | %.2f ± %.2f | %s | %.1f%% |\n", model.c_str(), threads, r.test.name.c_str(), r.mean,
                r.sd, gbs_cell(r).c_str(), 100.0 * r.of_limit);
}

void print_json(const std::vector<Result>& rs, const std::string& model, const MachineLimits& lim,
                const ParamCount& pc, int reps, int64_t huge_bytes) {
  std::printf("{\"model\": \"%s\", \"cpu\": \"%s\", \"isa\": \"%s\", \"threads\": %d, \"read_gbs\": %.3f, "
              "\"fma_gflops\": %.3f, \"bf16_gflops\": %.3f, \"int8_gops\": %.3f, \"prefill_math\": \"%s\", \"decode_math\": \"%s\", \"active_params\": %lld, \"bytes_per_token\": %lld, \"huge_page_bytes\": %lld, \"cache_type\": \"%s\", \"repetitions\": %d,\n"
              " \"tests\": [",
              model.c_str(), lim.cpu.c_str(), lim.isa.c_str(), lim.threads, lim.read_gbs, lim.peak_gflops,
              lim.bf16_gflops, lim.int8_gops, prefill_math() == PrefillMath::Bf16 ? "bf16" : "f32",
              decode_math_name(decode_math()), (long long)pc.active, (long long)pc.active_bytes, (long long)huge_bytes, cache_type_name(default_cache_type()), reps);
  for (size_t i = 0; i < rs.size(); ++i) {
    const Result& r = rs[i];
    std::printf("%s\n  {\"test\": \"%s\", \"phase\": \"%s\", \"tokens\": %lld, \"batch\": %lld, \"depth\": %lld, "
                "\"tps_mean\": %.4f, \"tps_stddev\": %.4f, \"gbs\": %.4f, \"of_limit\": %.4f}",
                i ? "," : "", r.test.name.c_str(), r.test.prefill ? "prefill" : "decode", (long long)r.test.tokens,
                (long long)r.test.batch, (long long)r.test.depth, r.mean, r.sd, r.gbs, r.of_limit);
  }
  std::printf("\n]}\n");
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  std::vector<std::string> opts = long_options(argc, argv);
  std::vector<char*> av;
  for (auto& s : opts) av.push_back(s.data());
  const Args a(int(av.size()), av.data(),
               {"model", "prompt-tokens", "decode-steps", "depth", "batch", "repetitions", "threads", "output", "ep",
                "profile", "cache-type"},
               {"help", "profile-ops"});
  if (a.has("help")) return std::fputs(kUsage, stdout), std::fputs(kEpUsage, stdout), 0;
  apply_threads(a);
  apply_cache_type(a);
  const int64_t prompt = a.integer("prompt-tokens", 128), steps = a.integer("decode-steps", 32);
  const int64_t depth = a.integer("depth", 0), batch = a.integer("batch", 1), reps = a.integer("repetitions", 3);
  const std::string output = a.str("output", "text");
  if (prompt < 0 || steps < 0 || depth < 0) fail("-p/--prompt-tokens, -n/--decode-steps and -d/--depth must be >= 0");
  if (prompt == 0 && steps == 0) fail("nothing to time: -p and -n are both 0");
  if (batch < 1 || reps < 1 || reps > 100) fail("--batch must be >= 1 and -r/--repetitions in [1, 100]");
  if (output != "text" && output != "md" && output != "json") fail("-o/--output must be text, md or json");
  const std::string dir = resolve_model_dir(a.str("model"));
  const auto model = load_model(dir);
  const int64_t huge_bytes = anon_huge_page_bytes();  // the weights read into 2 MB pages (io/mapped_file.h)
  const ExpertParallelRun ep(a, *model, dir);  // --ep N under mpirun (docs/distributed.md)
  if (depth + std::max(prompt, steps) > model->config().max_position_embeddings)
    fail("-d plus -p or -n exceeds the context (", model->config().max_position_embeddings, " positions)");

  const MachineLimits lim = measure_machine_limits();
  const ParamCount pc = count_params(*model);
  // Matrix FLOPs per prompt token: two per active weight except the output head's, which a
  // prefill runs for no token here (attention's score/value terms come on top).
  const ModelConfig& cfg = model->config();
  const double flops_per_token = 2.0 * double(pc.active - cfg.vocab_size * cfg.hidden_size);
  const std::string at = depth ? cat(" @ d", depth) : "";
  std::vector<Test> tests;
  if (prompt) tests.push_back({cat("pp", prompt, at), true, prompt, 1, depth});
  if (steps) tests.push_back({cat("tg", steps, at), false, steps, 1, depth});
  if (steps && batch > 1) tests.push_back({cat("tg", steps, " b", batch, at), false, steps, batch, depth});
  std::vector<Result> results;
  for (const Test& t : tests) results.push_back(measure(*model, t, int(reps), double(pc.active_bytes), flops_per_token, lim));

  if (output == "json") {
    print_json(results, dir, lim, pc, int(reps), huge_bytes);
  } else {
    std::printf("dsv3 bench --model %s -p %lld -n %lld -d %lld --batch %lld -r %lld\n", dir.c_str(), (long long)prompt,
                (long long)steps, (long long)depth, (long long)batch, (long long)reps);
    std::printf("machine: %s, %d threads, kernels %s\n", lim.cpu.c_str(), lim.threads, lim.isa.c_str());
    std::printf("measured limits: read %.1f GB/s, float32 FMA %.1f GFLOP/s, BF16 dot %.1f GFLOP/s, int8 dot %.1f GOP/s\n",
                lim.read_gbs, lim.peak_gflops, lim.bf16_gflops, lim.int8_gops);
    const PrefillUnit unit = prefill_unit(*model, lim);
    std::printf("prefill products: %s\n", unit == PrefillUnit::Int8   ? "int8 (vpdpbusd)"
                                          : unit == PrefillUnit::Bf16 ? "BF16 (vdpbf16ps)"
                                                                      : "float32");
    const ModelConfig& mc = model->config();
    std::printf("model: %.3g active parameters per token, %.3g MB of weights read per decoded token\n",
                double(pc.active), double(pc.active_bytes) / 1e6);
    std::printf("on 2 MB pages after loading: %.1f MB (AnonHugePages)\n", double(huge_bytes) / 1e6);
    std::printf("latent cache: %s, %lld bytes per token\n\n", cache_type_name(default_cache_type()),
                (long long)SequenceCache::bytes_per_token(mc.num_hidden_layers, mc.kv_lora_rank, mc.qk_rope_head_dim,
                                                          default_cache_type()));
    if (output == "md") print_markdown(results, dir, lim.threads);
    else print_text(results);
    std::printf("\n%s.\n", limits_note(unit));
  }
  if (a.has("profile-ops") && steps) print_profile(*model, {cat("tg", steps, at), false, steps, 1, depth});
  std::fflush(stdout);
  ep.print_stats(*model);
  ep.write_profile();
  return 0;
}

}  // namespace dsv3::cli
