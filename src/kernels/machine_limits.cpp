#include "kernels/machine_limits.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <vector>

#include "kernels/int8_gemm.h"
#include "kernels/isa_kernels.h"

namespace dsv3 {

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

double read_bandwidth(size_t bytes) {
  const int64_t n = int64_t(bytes / sizeof(float));
  std::vector<float> a(static_cast<size_t>(n));
  const IsaKernels& k = isa_kernels();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) a[size_t(i)] = float(i & 1023) * 1e-3f;  // first touch by the reader
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now();
    float total = 0;
#pragma omp parallel reduction(+ : total)
    {
      const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
      const int64_t chunk = (n + nt - 1) / nt, b = std::min(n, id * chunk), e = std::min(n, b + chunk);
      total += k.dot(a.data() + b, a.data() + b, e - b);  // one stream: both operands are the same line
    }
    sink = sink + total;
    best = std::max(best, double(bytes) / (now() - t0) / 1e9);
  }
  return best;
}

// GFLOP/s of `burn` (flops_per_iter per iteration) on every thread at once, best of 3.
template <typename Burn>
double peak(Burn burn, int64_t iters, int64_t flops_per_iter) {
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now();
    int threads = 1;
    float total = 0;
#pragma omp parallel reduction(+ : total)
    {
      threads = omp_get_num_threads();
      total += burn(iters);
    }
    sink = sink + total;
    best = std::max(best, double(iters) * double(flops_per_iter) * threads / (now() - t0) / 1e9);
  }
  return best;
}

}  // namespace

MachineLimits measure_machine_limits(size_t bytes) {
  MachineLimits m;
  m.cpu = cpu_model();
  m.isa = isa_kernels().name;
  m.threads = omp_get_max_threads();
  m.read_gbs = read_bandwidth(bytes);
  const IsaKernels& k = isa_kernels();
  m.peak_gflops = peak([&](int64_t it) { return k.fma_burn(it, 0.999999f, 1e-7f); }, 4000000, k.fma_burn_flops_per_iter);
  if (k.bf16_burn) m.bf16_gflops = peak(k.bf16_burn, 2000000, k.bf16_burn_flops_per_iter);
  if (int8_dot_available())
    m.int8_gops = peak([](int64_t it) { return float(int8_burn_ops(it)); }, 2000000, int8_burn_ops_per_iter());
  return m;
}

}  // namespace dsv3
