// The matrix-product kernels at the shapes the model runs them:
//   decode   (n = 1..8 rows)  — bound by reading the weights: reported in GB/s and as a
//                              fraction of the machine's measured read bandwidth;
//   prefill / training (n = 128..1024) — bound by arithmetic: GFLOP/s and the fraction of the
//                              measured float32 FMA peak.
// Run: build/bench/bench_kernels [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
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

// y[n, R] = x[n, C] · Wᵀ with W stored as dt.
void BM_linear(benchmark::State& st, DType dt) {
  const int64_t n = st.range(0), R = st.range(1), C = st.range(2);
  const StoredMatrix m = make(dt, R, C);
  std::vector<float> x(size_t(n * C), 0.01f), y(size_t(n * R));
  for (auto _ : st) {
    linear(y.data(), x.data(), n, m.w);
    benchmark::DoNotOptimize(y.data());
  }
  report(st, double(m.w.bytes()), 2.0 * n * R * C);
}

void BM_linear_t(benchmark::State& st) {
  const int64_t n = st.range(0), R = st.range(1), C = st.range(2);
  const StoredMatrix m = make(DType::F32, R, C);
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
// Prefill: a 128-token chunk.
BENCHMARK_CAPTURE(BM_linear, bf16_prefill, DType::BF16)->Args({128, 2048, 2048})->UseRealTime();
BENCHMARK_CAPTURE(BM_linear, fp8_prefill, DType::F8_E4M3)->Args({128, 2048, 2048})->UseRealTime();
// Training a small model: 1024 token rows through 512-wide layers, the three products.
BENCHMARK_CAPTURE(BM_linear, f32_train_fwd, DType::F32)->Args({1024, 512, 512})->UseRealTime();
BENCHMARK(BM_linear_t)->Name("BM_linear_t/f32_train_dx")->Args({1024, 512, 512})->UseRealTime();
BENCHMARK(BM_linear_dw)->Name("BM_linear_dw/f32_train_dw")->Args({1024, 512, 512})->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  set_num_threads(0);
  g_limits = measure_machine_limits();
  std::printf("machine: %s, %d threads, kernels %s\nmeasured limits: read %.1f GB/s, float32 FMA %.1f GFLOP/s\n",
              g_limits.cpu.c_str(), g_limits.threads, g_limits.isa.c_str(), g_limits.read_gbs, g_limits.peak_gflops);
  std::printf("of_bw / of_peak: the fraction of those limits each kernel reaches\n\n");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
