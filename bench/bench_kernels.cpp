// The matrix-product kernels at the shapes the model runs them:
//   decode   (n = 1..8 rows)  — bound by reading the weights: reported in GB/s and as a
//                              fraction of the machine's measured read bandwidth;
//   prefill / training (n = 128..1024) — bound by arithmetic: GFLOP/s and the fraction of the
//                              measured float32 FMA peak.
// Run: [DSV3_THREADS=N] build/bench/bench_kernels [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/parallel.h"
#include "kernels/linear.h"
#include "kernels/machine_limits.h"

namespace {

using namespace dsv3;

MachineLimits g_limits;

struct StoredMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  Weight w;
};

StoredMatrix make(DType dt, int64_t R, int64_t C) {
  StoredMatrix m;
  m.bytes.resize(size_t(R * C) * dtype_size(dt));
  std::mt19937 rng(1);
  for (auto& b : m.bytes) b = uint8_t(rng() & 0x77);  // finite values in every dtype
  m.w.dtype = dt;
  m.w.rows = R;
  m.w.cols = C;
  m.w.data = m.bytes.data();
  if (dt == DType::F8_E4M3) {
    m.w.scale_cols = (C + 127) / 128;
    m.scales.assign(size_t(((R + 127) / 128) * m.w.scale_cols), 1e-2f);
    m.w.scale_inv = m.scales.data();
  }
  return m;
}

void report(benchmark::State& st, double bytes, double flops) {
  using C = benchmark::Counter;
  const double it = double(st.iterations());
  st.counters["GB/s"] = C(bytes * it / 1e9, C::kIsRate);
  st.counters["of_bw"] = C(bytes * it / 1e9 / g_limits.read_gbs, C::kIsRate);
  st.counters["GFLOP/s"] = C(flops * it / 1e9, C::kIsRate);
  st.counters["of_peak"] = C(flops * it / 1e9 / g_limits.peak_gflops, C::kIsRate);
}

// y[n, R] = x[n, C] · Wᵀ with W stored as dt; many-row products in exact float32 (the default).
void BM_linear(benchmark::State& st, DType dt) {
  set_prefill_math(PrefillMath::F32);
  const int64_t n = st.range(0), R = st.range(1), C = st.range(2);
  const StoredMatrix m = make(dt, R, C);
  std::vector<float> x(size_t(n * C), 0.01f), y(size_t(n * R));
  for (auto _ : st) {
    linear(y.data(), x.data(), n, m.w);
    benchmark::DoNotOptimize(y.data());
  }
  report(st, double(m.w.bytes()), 2.0 * n * R * C);
}

// Decode through one MoE layer's chosen experts, like moe_forward: gate and up of 8 experts in one
// linear_batch, then their down products in another. Cycles through 64 experts' weights (6.3 x
// the 8 chosen) so that each step reads them from DRAM. Args: rows n, expert width I, hidden H.
void BM_experts(benchmark::State& st, DType dt) {
  const int64_t n = st.range(0), I = st.range(1), H = st.range(2), kExperts = 64, kChosen = 8;
  std::vector<StoredMatrix> up_gate, down;
  for (int64_t e = 0; e < 2 * kExperts; ++e) up_gate.push_back(make(dt, I, H));
  for (int64_t e = 0; e < kExperts; ++e) down.push_back(make(dt, H, I));
  std::vector<float> x(size_t(n * H), 0.01f), g(size_t(kChosen * n * I)), u(g.size()), y(size_t(kChosen * n * H));
  std::vector<LinearJob> jobs;
  int64_t step = 0;
  for (auto _ : st) {
    jobs.clear();
    for (int64_t k = 0; k < kChosen; ++k) {
      const int64_t e = (step * kChosen + k) % kExperts;
      jobs.push_back({g.data() + k * n * I, x.data(), n, up_gate[size_t(2 * e)].w});
      jobs.push_back({u.data() + k * n * I, x.data(), n, up_gate[size_t(2 * e + 1)].w});
    }
    linear_batch(jobs.data(), jobs.size());
    jobs.clear();
    for (int64_t k = 0; k < kChosen; ++k) {
      const int64_t e = (step * kChosen + k) % kExperts;
      jobs.push_back({y.data() + k * n * H, g.data() + k * n * I, n, down[size_t(e)].w});
    }
    linear_batch(jobs.data(), jobs.size());
    benchmark::DoNotOptimize(y.data());
    ++step;
  }
  const double bytes = double(kChosen) * 3.0 * double(I * H) * double(dtype_size(dt));
  report(st, bytes, 2.0 * 3.0 * double(kChosen * n * I * H));
}

// The same with many-row products on BF16 dot products (activations rounded to BF16), reported
// against the BF16 dot-product peak.
void BM_linear_bf16dot(benchmark::State& st, DType dt) {
  set_prefill_math(PrefillMath::Bf16);
  const int64_t n = st.range(0), R = st.range(1), C = st.range(2);
  const StoredMatrix m = make(dt, R, C);
  std::vector<float> x(size_t(n * C), 0.01f), y(size_t(n * R));
  for (auto _ : st) {
    linear(y.data(), x.data(), n, m.w);
    benchmark::DoNotOptimize(y.data());
  }
  set_prefill_math(PrefillMath::F32);
  report(st, double(m.w.bytes()), 2.0 * n * R * C);
  if (g_limits.bf16_gflops > 0)
    st.counters["of_peak"] = benchmark::Counter(2.0 * n * R * C * double(st.iterations()) / 1e9 / g_limits.bf16_gflops,
                                                benchmark::Counter::kIsRate);
}

void BM_linear_t(benchmark::State& st, DType dt) {
  const int64_t n = st.range(0), R = st.range(1), C = st.range(2);
  const StoredMatrix m = make(dt, R, C);
  std::vector<float> x(size_t(n * R), 0.01f), y(size_t(n * C));
  for (auto _ : st) {
    linear_t(y.data(), x.data(), n, m.w);
    benchmark::DoNotOptimize(y.data());
  }
  report(st, double(m.w.bytes()), 2.0 * n * R * C);
}

void BM_linear_dw(benchmark::State& st) {
  const int64_t n = st.range(0), R = st.range(1), C = st.range(2);
  std::vector<float> dy(size_t(n * R), 0.01f), x(size_t(n * C), 0.01f), dw(size_t(R * C));
  for (auto _ : st) {
    linear_dw(dw.data(), dy.data(), x.data(), n, R, C);
    benchmark::DoNotOptimize(dw.data());
  }
  report(st, double(R * C * 4), 2.0 * n * R * C);
}

// Decode: one or a few rows against a 4096 x 4096 weight (32 MB in BF16: far above the caches).
BENCHMARK_CAPTURE(BM_linear, bf16_decode, DType::BF16)
    ->Args({1, 4096, 4096})->Args({4, 4096, 4096})->Args({8, 4096, 4096})->Args({16, 4096, 4096})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear, fp8_decode, DType::F8_E4M3)
    ->Args({1, 4096, 4096})->Args({4, 4096, 4096})->Args({8, 4096, 4096})->Args({16, 4096, 4096})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear, f32_decode, DType::F32)->Args({1, 4096, 4096})->UseRealTime();
// DRAM-sized, at the v3-bench shapes (hidden 1024): the 129,280-row output head (265 MB in
// BF16) and a MoE layer's worth of small expert matrices through linear_batch.
BENCHMARK_CAPTURE(BM_linear, bf16_head, DType::BF16)->Args({1, 129280, 1024})->Args({4, 129280, 1024})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear, fp8_head, DType::F8_E4M3)->Args({1, 129280, 1024})->UseRealTime();
BENCHMARK_CAPTURE(BM_experts, bf16, DType::BF16)->Args({1, 256, 1024})->UseRealTime();
BENCHMARK_CAPTURE(BM_experts, fp8, DType::F8_E4M3)->Args({1, 256, 1024})->UseRealTime();
// Decode attention's W_UK (the absorbed form): one head's query [128] through its [128, 512]
// slice of kv_b_proj, transposed (16 heads x 8 layers of these per v3-bench token).
BENCHMARK_CAPTURE(BM_linear_t, bf16_w_uk, DType::BF16)->Args({1, 128, 512})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear_t, fp8_w_uk, DType::F8_E4M3)->Args({1, 128, 512})->UseRealTime();
// Prefill: a 128-token chunk.
BENCHMARK_CAPTURE(BM_linear, bf16_prefill, DType::BF16)->Args({128, 2048, 2048})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear, fp8_prefill, DType::F8_E4M3)->Args({128, 2048, 2048})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear_bf16dot, bf16_prefill, DType::BF16)->Args({128, 2048, 2048})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear_bf16dot, fp8_prefill, DType::F8_E4M3)->Args({128, 2048, 2048})->UseRealTime();
// v3-bench prefill shapes: 512 tokens through an attention projection and one expert's share.
BENCHMARK_CAPTURE(BM_linear, bf16_pp512, DType::BF16)->Args({512, 2048, 1024})->Args({64, 256, 1024})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear_bf16dot, bf16_pp512, DType::BF16)->Args({512, 2048, 1024})->Args({64, 256, 1024})->UseRealTime();
// Training a small model: 1024 token rows through 512-wide layers, the three products.
BENCHMARK_CAPTURE(BM_linear, f32_train_fwd, DType::F32)->Args({1024, 512, 512})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear_t, f32_train_dx, DType::F32)->Args({1024, 512, 512})->UseRealTime();
BENCHMARK(BM_linear_dw)->Name("BM_linear_dw/f32_train_dw")->Args({1024, 512, 512})->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  set_num_threads(std::getenv("DSV3_THREADS") ? std::atoi(std::getenv("DSV3_THREADS")) : 0);  // 0: all cores
  g_limits = measure_machine_limits();
  std::printf("machine: %s, %d threads, kernels %s\nmeasured limits: read %.1f GB/s, float32 FMA %.1f GFLOP/s, "
              "BF16 dot %.1f GFLOP/s\n",
              g_limits.cpu.c_str(), g_limits.threads, g_limits.isa.c_str(), g_limits.read_gbs, g_limits.peak_gflops,
              g_limits.bf16_gflops);
  std::printf("of_bw / of_peak: the fraction of those limits each kernel reaches\n\n");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
