// Decode and prefill products of the integer weight formats (INT8 block-scaled, INT4 GPTQ
// groups) beside BF16 and FP8, on a matrix far larger than the caches (16384 x 7168: 58.7 MB
// at 4 bits, 2x the L3 of the machine it was written on), then the v3-bench model's own
// DRAM-sized decode shapes (the output head, a layer's experts, a token's W_UK absorption).
// Decode (1..8 rows) is reported in GB/s of weights (codes + scales) read per product and as a
// fraction of the measured read bandwidth;
// prefill (64 rows) in multiply-adds per second. "INT4t", "INT8t": in 16-row tiles (quant_weight.h).
// Last, GGUF Q8_0 in rows and in 16-row tiles (q8_0_cases).
// Run: build/bench/bench_quant [threads] [q8_0] [--rows N] [--cols N] [--only NAME]   (median of 5 timed
// repetitions per case; q8_0: the Q8_0 layouts only; --rows: the large matrix's rows, default
// 16384; --cols: its columns, default 7168 (a multiple of 128); --only: the large matrix in the
// formats whose name contains NAME, e.g. "INT4t", "Q8_0 t")
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/dtype.h"
#include "kernels/int8_gemm.h"
#include "kernels/linear.h"
#include "kernels/machine_limits.h"
#include "kernels/quant_weight.h"

namespace {

using namespace dsv3;

int64_t kCols = 7168;  // --cols N: the large matrix's columns
// Rows of the large matrix: 16384 (235 MB in BF16) unless --rows N asks for more, for a host
// whose L3 holds that (260 MB on the 2026-12 Xeon: 4x makes every format DRAM-bound).
int64_t kRows = 16384;
std::string g_only;  // --only: run the formats whose name contains it, on the large matrix only

bool wanted(const char* name) { return std::string(name).find(g_only) != std::string::npos; }

struct Stored {
  const char* name;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  Int4Matrix int4;
  Int8Rows int8;
  Weight w;
  size_t read_bytes = 0;
};

// tiled: INT4 (int4_tile) or block INT8 (int8_tiles_from_blocks) in 16-row tiles, as the loaders
// keep every matrix but kv_b_proj.
Stored make(const char* name, DType dt, int64_t group, int64_t rows = kRows, int64_t cols = kCols, bool tiled = false) {
  Stored m;
  m.name = name;
  std::mt19937 rng(1);
  m.w.rows = rows;
  m.w.cols = cols;
  if (group > 0) {  // random codes, scales and offsets: the kernel's speed does not depend on them
    Int4Matrix& q = m.int4;
    q.rows = rows, q.cols = cols, q.group = group, q.padded_cols = cols;
    q.packed.resize(size_t(rows * cols / 2));
    for (auto& b : q.packed) b = uint8_t(rng());
    q.dm.assign(size_t(rows * q.groups() * 2), 0x2000);
    if (tiled) int4_tile(q);
    m.w.dtype = DType::U8;
    m.w.data = q.packed.data();
    m.w.int4 = &q;
    m.read_bytes = q.bytes();
    return m;
  }
  m.bytes.resize(size_t(rows * cols) * dtype_size(dt));
  for (auto& b : m.bytes) b = uint8_t(rng() & 0x77);  // finite in every dtype
  if (dt == DType::BF16) {  // normal values: random bytes make ~1/64 of them subnormal, which
    std::normal_distribution<float> nd(0.0f, 0.02f);  // x86 multiplies through a microcode assist
    uint16_t* v = reinterpret_cast<uint16_t*>(m.bytes.data());
    for (int64_t i = 0; i < rows * cols; ++i) v[i] = f32_to_bf16(nd(rng));
  }
  if (dt == DType::F8_E4M3) {  // a checkpoint's codes: random bytes would make 1/8 subnormal (a
    std::normal_distribution<float> nd(0.0f, 64.0f);  // checkpoint: ~1e-4), each taking the
    for (auto& b : m.bytes) b = f32_to_fp8_e4m3(nd(rng));  // BF16-dot kernel's exact side path
  }
  m.w.dtype = dt;
  m.w.data = m.bytes.data();
  m.read_bytes = m.bytes.size();
  if (dt == DType::F8_E4M3 || dt == DType::I8) {
    m.w.scale_cols = (cols + 127) / 128;
    m.scales.assign(size_t((rows + 127) / 128 * m.w.scale_cols), 0.01f);
    m.w.scale_inv = m.scales.data();
    m.read_bytes += m.scales.size() * 4;
  }
  if (dt == DType::I8 && tiled) {  // in 16-row tiles, as the loaders keep every matrix but kv_b_proj
    m.int8 = int8_tiles_from_blocks(reinterpret_cast<const int8_t*>(m.bytes.data()), m.scales.data(), rows, cols, 128);
    m.bytes = {}, m.scales = {};
    m.w = int8_rows_weight(m.int8);
    m.read_bytes = m.int8.bytes();
  }
  return m;
}

double median_seconds(const Weight& w, const std::vector<float>& x, std::vector<float>& y, int64_t n) {
  std::vector<double> t;
  linear(y.data(), x.data(), n, w);  // warm-up
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    linear(y.data(), x.data(), n, w);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[2];
}

// MLA's W_UK absorption as one decode token runs it: per layer, each of 16 heads' 128 rows x 512
// columns of kv_b_proj [16·256, 512] through linear_t (the transposed product), heads over the
// threads as mla.cpp does; 8 layers per token, cycling over 64 layers' matrices so they come
// from DRAM. Bytes: the W_UK rows' codes and scales.
void w_uk(const MachineLimits& lim, const char* name, DType dt, int64_t group) {
  constexpr int64_t kHeads = 16, kNope = 128, kV = 128, kLatent = 512, kLayers = 8, kStored = 64;
  std::vector<Stored> kv_b;
  for (int64_t l = 0; l < kStored; ++l) kv_b.push_back(make(name, dt, group, kHeads * (kNope + kV), kLatent));
  for (Stored& m : kv_b) m.w.int4 = group > 0 ? &m.int4 : nullptr, m.w.data = group > 0 ? m.int4.packed.data() : m.bytes.data();
  std::vector<float> q(size_t(kHeads * kNope), 0.5f), q_lat(size_t(kHeads * kLatent));
  std::vector<double> t;
  for (int rep = 0; rep < 64; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t l = 0; l < kLayers; ++l) {
      const Weight& w = kv_b[size_t((rep * kLayers + l) % kStored)].w;
#pragma omp parallel for schedule(static)
      for (int64_t h = 0; h < kHeads; ++h)
        linear_t(q_lat.data() + h * kLatent, q.data() + h * kNope, 1, w.rows_slice(h * (kNope + kV), kNope));
    }
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  const double per_weight = group > 0 ? 0.5 + 4.0 / double(group) : 1.0 + 4.0 / (128.0 * 128.0);
  const double bytes = double(kLayers * kHeads * kNope * kLatent) * per_weight, s = t[t.size() / 2];
  std::printf("%-10s %-22s %8.1f %10.3f %10.2f %8.1f%%\n", name, "W_UK 8 x 16 x 128 x 512", bytes / 1e6, s * 1e3,
              bytes / s / 1e9, 100.0 * bytes / s / 1e9 / lim.read_gbs);
}

// The v3-bench model's DRAM-sized decode products, 1 input row: the output head [129280 x 1024]
// (long, short rows: per-row overhead shows) and a layer's 9 experts' gate and up [256 x 1024]
// and down [1024 x 256] through linear_batch, cycling over 256 experts (4 layers' worth, 134 MB
// at 8 bits) so they come from DRAM.
void model_shapes(const MachineLimits& lim) {
  constexpr int64_t kVocab = 129280, kHidden = 1024, kInter = 256, kExperts = 256, kActive = 9;
  std::printf("\nv3-bench shapes, 1 row:\n%-10s %-22s %8s %10s %10s %9s\n", "format", "product", "MB", "ms",
              "GB/s", "of read");
  std::vector<float> x(static_cast<size_t>(kActive * kHidden)), y(static_cast<size_t>(kVocab));
  std::mt19937 rng(3);
  for (auto& v : x) v = std::normal_distribution<float>()(rng);
  for (const auto& [name, dt, group, tiled] :
       {std::tuple{"INT8", DType::I8, int64_t(0), false}, {"INT4 g128", DType::U8, int64_t(128), false},
        {"INT4t g128", DType::U8, int64_t(128), true}, {"INT4 g32", DType::U8, int64_t(32), false},
        {"INT4t g32", DType::U8, int64_t(32), true}}) {
    const Stored head = make(name, dt, group, kVocab, kHidden, tiled);
    const double s = median_seconds(head.w, x, y, 1);
    const double gbs = double(head.read_bytes) / s / 1e9;
    std::printf("%-10s %-22s %8.1f %10.3f %10.2f %8.1f%%\n", name, "head 129280 x 1024", head.read_bytes / 1e6,
                s * 1e3, gbs, 100.0 * gbs / lim.read_gbs);
    // 9 experts' products at a time through linear_batch, a different 9 each call: gate and up
    // [256 x 1024] sharing the expert's input, or down [1024 x 256] (each its own input).
    const auto experts = [&](const char* what, int64_t rows, int64_t cols, int64_t per_expert) {
      std::vector<Stored> stored;
      for (int64_t e = 0; e < per_expert * kExperts; ++e) stored.push_back(make(name, dt, group, rows, cols, tiled));
      for (Stored& e : stored) e.w.int4 = group > 0 ? &e.int4 : nullptr, e.w.data = group > 0 ? e.int4.packed.data() : e.bytes.data();
      std::vector<float> out(size_t(per_expert * kActive * rows));
      std::vector<double> t;
      for (int rep = 0; rep < 128; ++rep) {
        std::vector<LinearJob> jobs;
        for (int64_t i = 0; i < kActive; ++i)
          for (int64_t j = 0; j < per_expert; ++j) {
            const Stored& e = stored[size_t(per_expert * ((rep * kActive + i) % kExperts) + j)];
            jobs.push_back({out.data() + (per_expert * i + j) * rows, x.data() + i * cols, 1, e.w});
          }
        const auto t0 = std::chrono::steady_clock::now();
        linear_batch(jobs.data(), jobs.size());
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(t.begin(), t.end());
      const double bytes = double(per_expert * kActive) * double(stored[0].read_bytes), sec = t[t.size() / 2];
      std::printf("%-10s %-22s %8.1f %10.3f %10.2f %8.1f%%\n", name, what, bytes / 1e6, sec * 1e3, bytes / sec / 1e9,
                  100.0 * bytes / sec / 1e9 / lim.read_gbs);
    };
    experts("9 x gate+up 256 x 1024", kInter, kHidden, 2);
    experts("9 x down 1024 x 256", kHidden, kInter, 1);
    if (!tiled) w_uk(lim, name, dt, group);  // kv_b_proj keeps the row layout (int4_tiles_pay)
  }
}

// GGUF Q8_0 (Int8Rows) in its two layouts, old and new side by side: "Q8_0 rows" (codes with
// float32 scales widened, gemv_i8_rows: what every Q8_0 matrix used before the tiles) and
// "Q8_0 tiles" (16-row tiles with the file's F16 scales, gemv_i8_tiles), beside INT8 in 128 x 128
// blocks: the large matrix at 1, 4 and 8 rows and prefill, then the v3-bench head and experts.
Int8Rows make_q8_0(int64_t rows, int64_t cols, bool tiled) {
  std::mt19937 rng(4);
  Int8Rows m;
  m.rows = rows, m.cols = cols, m.tiled = tiled;
  if (tiled) {
    m.packed.resize(size_t(m.tiles() * m.tile_bytes()));
    for (auto& b : m.packed) b = uint8_t(rng());
    m.d.assign(size_t(m.tiles() * m.tile_halves()), 0x2000);
  } else {
    m.codes.resize(size_t(rows * cols));
    for (auto& b : m.codes) b = int8_t(rng());
    m.scales.assign(size_t(rows * m.units()), 0.01f);
  }
  return m;
}

void q8_0_cases(const MachineLimits& lim) {
  std::printf("\nGGUF Q8_0 layouts (bytes: codes + scales as stored):\n%-10s %-22s %8s %10s %10s %9s\n", "format",
              "product", "MB", "ms", "GB/s", "of read");
  std::vector<float> x(size_t(64 * kCols)), y(size_t(64 * 129280));
  std::mt19937 rng(5);
  for (auto& v : x) v = std::normal_distribution<float>()(rng);
  for (const bool tiled : {false, true}) {
    const char* name = tiled ? "Q8_0 tiles" : "Q8_0 rows";
    if (!wanted(name)) continue;
    const auto report = [&](const char* what, double bytes, double s) {
      std::printf("%-10s %-22s %8.1f %10.3f %10.2f %8.1f%%\n", name, what, bytes / 1e6, s * 1e3, bytes / s / 1e9,
                  100.0 * bytes / s / 1e9 / lim.read_gbs);
    };
    {
      const Int8Rows m = make_q8_0(kRows, kCols, tiled);
      const Weight w = int8_rows_weight(m);
      for (int64_t n : {1, 4, 8}) {
        char what[64];
        std::snprintf(what, sizeof what, "%lld x %lld, %lld rows", (long long)kRows, (long long)kCols, (long long)n);
        report(what, double(m.bytes()), median_seconds(w, x, y, n));
      }
      const double s = median_seconds(w, x, y, 64);
      char what64[48];
      std::snprintf(what64, sizeof what64, "%lld x %lld, 64 rows", (long long)kRows, (long long)kCols);
      std::printf("%-10s %-22s %8s %10.3f %10s %9s   prefill: %.1f G multiply-adds/s\n", name, what64,
                  "", s * 1e3, "-", "-", double(kRows) * double(kCols) * 64.0 / s / 1e9);
    }
    if (!g_only.empty()) continue;
    {
      const Int8Rows m = make_q8_0(129280, 1024, tiled);
      report("head 129280 x 1024", double(m.bytes()), median_seconds(int8_rows_weight(m), x, y, 1));
    }
    // 9 of 256 experts' gate and up [256 x 1024] through linear_batch, a different 9 each call.
    std::vector<Int8Rows> experts;
    for (int64_t e = 0; e < 2 * 256; ++e) experts.push_back(make_q8_0(256, 1024, tiled));
    std::vector<float> out(size_t(18 * 256));
    std::vector<double> t;
    for (int rep = 0; rep < 128; ++rep) {
      std::vector<LinearJob> jobs;
      for (int64_t i = 0; i < 18; ++i)
        jobs.push_back({out.data() + i * 256, x.data() + (i / 2) * 1024, 1,
                        int8_rows_weight(experts[size_t((rep * 18 + i) % experts.size())])});
      const auto t0 = std::chrono::steady_clock::now();
      linear_batch(jobs.data(), jobs.size());
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    report("9 x gate+up 256 x 1024", 18.0 * double(experts[0].bytes()), t[t.size() / 2]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) omp_set_num_threads(std::atoi(argv[1]));
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--rows") kRows = std::max<int64_t>(16, std::atoll(argv[i + 1]) / 16 * 16);
    else if (std::string(argv[i]) == "--cols") kCols = std::max<int64_t>(128, std::atoll(argv[i + 1]) / 128 * 128);
    else if (std::string(argv[i]) == "--only") g_only = argv[i + 1];
  const MachineLimits lim = measure_machine_limits();
  if (argc > 2 && std::string(argv[2]) == "q8_0") return q8_0_cases(lim), 0;  // the Q8_0 layouts only
  std::printf("bench_quant: %lld x %lld weights, %d threads, kernels %s; measured read %.1f GB/s\n",
              (long long)kRows, (long long)kCols, lim.threads, lim.isa.c_str(), lim.read_gbs);
  std::printf("%-10s %8s %6s %10s %10s %9s\n", "format", "MB", "rows", "ms", "GB/s", "of read");
  std::vector<float> x(size_t(256 * kCols)), y(size_t(256 * kRows));
  std::mt19937 rng(2);
  std::normal_distribution<float> nd;
  for (auto& v : x) v = nd(rng);
  // "BF16 bf16", "FP8 bf16": DecodeMath::Bf16All (activations rounded to BF16, vdpbf16ps; for
  // FP8 what generate, chat and bench use); "BF16", "FP8": the exact float32 products.
  const struct { const char* name; DType dt; int64_t group; bool tiled; } formats[] = {
      {"BF16", DType::BF16, 0, false}, {"BF16 bf16", DType::BF16, 0, false}, {"FP8", DType::F8_E4M3, 0, false},
      {"FP8 bf16", DType::F8_E4M3, 0, false},
      {"INT8", DType::I8, 0, false}, {"INT8t", DType::I8, 0, true},
      {"INT4 g128", DType::U8, 128, false}, {"INT4t g128", DType::U8, 128, true}, {"INT4 g32", DType::U8, 32, false},
      {"INT4t g32", DType::U8, 32, true}};
  for (const auto& f : formats) {
    if (!wanted(f.name)) continue;
    set_decode_math(std::string(f.name).find(" bf16") != std::string::npos ? DecodeMath::Bf16All : DecodeMath::F32);
    const Stored m = make(f.name, f.dt, f.group, kRows, kCols, f.tiled);
    for (int64_t n : {1, 4, 8}) {
      const double s = median_seconds(m.w, x, y, n);
      const double gbs = double(m.read_bytes) / s / 1e9;
      std::printf("%-10s %8.1f %6lld %10.3f %10.2f %8.1f%%\n", f.name, double(m.read_bytes) / 1e6, (long long)n, s * 1e3,
                  gbs, 100.0 * gbs / lim.read_gbs);
    }
    const double s = median_seconds(m.w, x, y, 64);
    const double gmacs = double(kRows) * double(kCols) * 64.0 / s / 1e9;
    std::printf("%-10s %8s %6d %10.3f %10s %9s   prefill: %.1f G multiply-adds/s", f.name, "", 64, s * 1e3, "-", "-",
                gmacs);
    if (int8_gemm_fits(m.w) && lim.int8_gops > 0)  // on vpdpbusd: against its measured peak
      std::printf(", %.1f%% of the int8 dot peak (%.0f GOP/s)", 100.0 * 2.0 * gmacs / lim.int8_gops, lim.int8_gops);
    std::printf("\n");
  }
  if (g_only.empty()) model_shapes(lim);
  q8_0_cases(lim);
  return 0;
}
