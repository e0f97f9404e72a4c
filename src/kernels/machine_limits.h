// The machine's own measured limits, which benchmarks report their results against: how fast
// memory can be read (decoding is bound by reading weights) and how many float32 multiply-adds
// BF16 and int8 dot products the cores can issue (prefill and training are bound by arithmetic).
#pragma once
#include <string>

namespace dsv3 {

struct MachineLimits {
  std::string cpu;        // model name from /proc/cpuinfo
  std::string isa;        // the kernel instruction set in use
  int threads = 0;
  double read_gbs = 0;    // streaming read bandwidth, GB/s (1e9 bytes), all threads
  double peak_gflops = 0; // float32 FMA throughput, GFLOP/s, all threads
  double bf16_gflops = 0; // BF16 dot-product (vdpbf16ps) throughput, GFLOP/s; 0 without it
  double int8_gops = 0;   // int8 dot-product (vpdpbusd) throughput, GOP/s (2 per multiply-add); 0 without it
};

// Takes about a second. bytes: size of the array streamed (larger than the caches).
MachineLimits measure_machine_limits(size_t bytes = size_t(1) << 29);

}  // namespace dsv3
