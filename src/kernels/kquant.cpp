#include "kernels/kquant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kquant_blocks.h"
#include "kernels/isa_kernels.h"
#include "kernels/kquant_kernels.h"
#include "kernels/linear.h"

namespace dsv3 {

namespace {
constexpr int64_t kRowChunk = 64;                // weight rows per task, as quant_linear.cpp
constexpr int64_t kMaxRows = 8;                  // input rows per kernel call
constexpr double kParallelMinOps = 1 << 20;      // below, one thread
}  // namespace

const KQuantKernels* kquant_kernels_by_name(const char* name) {
  if (!isa_kernels_by_name(name)) return nullptr;
#if defined(DSV3_HAVE_X86_ISAS)
  if (!std::strcmp(name, "avx512bf16")) return kquant_kernels_avx512();  // AVX-512 with VNNI (and BF16)
  if (!std::strcmp(name, "avx512"))
    return __builtin_cpu_supports("avx512vnni") ? kquant_kernels_avx512() : kquant_kernels_avx2();
  if (!std::strcmp(name, "avx2")) return kquant_kernels_avx2();
#endif
  if (!std::strcmp(name, "generic")) return kquant_kernels_generic();
  return nullptr;
}

const KQuantKernels& kquant_kernels() {
  static const KQuantKernels& k = *kquant_kernels_by_name(isa_kernels().name);
  return k;
}

void kquant_quantize(KQuantActs& a, const float* x, int64_t n, int64_t cols) {
  a.x = x;
  a.n = n;
  a.cols = cols;
  a.q.resize(size_t(n * cols));
  a.d.resize(size_t(n * cols / kSuperBlock));
  a.bsum.resize(size_t(n * cols / 16));
  kquant_kernels().quantize(a.q.data(), a.d.data(), a.bsum.data(), x, n * cols / kSuperBlock);  // rows are whole units
}

void kquant_linear_rows(float* y, int64_t ldy, const KQuantActs& a, const Weight& w, int64_t r0, int64_t nr) {
  const KQuantKernels& k = kquant_kernels();
  for (int64_t t0 = 0; t0 < a.n; t0 += kMaxRows) {
    const int64_t C = a.cols;
    const KQuantRows x{a.q.data() + t0 * C, a.d.data() + t0 * C / kSuperBlock, a.bsum.data() + t0 * C / 16, C,
                       C / kSuperBlock, C / 16};
    const auto gemv = w.kquant == KQuant::Q6_K ? k.gemv_q6_k : w.kquant == KQuant::Q4_K ? k.gemv_q4_k : k.gemv_q5_k;
    gemv(y + t0 * ldy + r0, ldy, x, std::min(kMaxRows, a.n - t0), w.row_ptr(r0), int64_t(w.kquant_row_bytes()),
                nr, C);
  }
}

void kquant_linear(float* y, const float* x, int64_t n, const Weight& w) {
  const int64_t R = w.rows;
  thread_local KQuantActs a;
  kquant_quantize(a, x, n, w.cols);
  const KQuantActs& acts = a;  // the workers read the caller's buffers
  const int64_t chunks = (R + kRowChunk - 1) / kRowChunk;
#pragma omp parallel for schedule(static) if (double(n) * double(R) * double(w.cols) >= kParallelMinOps)
  for (int64_t ch = 0; ch < chunks; ++ch)
    kquant_linear_rows(y, R, acts, w, ch * kRowChunk, std::min(kRowChunk, R - ch * kRowChunk));
}

void kquant_linear_batch(const LinearJob* jobs, size_t count) {
  struct Task {
    const LinearJob* job;
    size_t acts;
    int64_t r0, nr;
  };
  thread_local std::vector<Task> tasks;
  thread_local std::vector<KQuantActs> quantized;
  tasks.clear();
  size_t n_quantized = 0;
  double ops = 0;
  for (size_t j = 0; j < count; ++j) {
    const LinearJob& b = jobs[j];
    size_t acts = n_quantized;
    for (size_t q = 0; q < n_quantized; ++q)
      if (quantized[q].x == b.x && quantized[q].n == b.n && quantized[q].cols == b.w.cols) acts = q;
    if (acts == n_quantized) {
      if (n_quantized == quantized.size()) quantized.emplace_back();
      kquant_quantize(quantized[n_quantized++], b.x, b.n, b.w.cols);
    }
    for (int64_t r0 = 0; r0 < b.w.rows; r0 += kRowChunk) tasks.push_back({&b, acts, r0, std::min(kRowChunk, b.w.rows - r0)});
    ops += double(b.n) * double(b.w.rows) * double(b.w.cols);
  }
  const int64_t n_tasks = int64_t(tasks.size());
  const Task* task = tasks.data();
  const KQuantActs* quant = quantized.data();
#pragma omp parallel for schedule(static) if (ops >= kParallelMinOps)
  for (int64_t i = 0; i < n_tasks; ++i)
    kquant_linear_rows(task[i].job->y, task[i].job->w.rows, quant[task[i].acts], task[i].job->w, task[i].r0, task[i].nr);
}

void kquant_row_span_f32(float* out, const Weight& w, int64_t r, int64_t c0, int64_t nc) {
  const uint8_t* row = w.row_ptr(r);
  float block[kSuperBlock];
  for (int64_t c = c0; c < c0 + nc;) {  // one super-block at a time
    const int64_t b = c / kSuperBlock, end = std::min(c0 + nc, (b + 1) * kSuperBlock);
    const uint8_t* blk = row + b * int64_t(w.kquant_block_bytes());
    if (w.kquant == KQuant::Q6_K) dequantize_q6_k(blk, block);
    else dequantize_q4_5_k(blk, w.kquant == KQuant::Q5_K, block);
    std::memcpy(out + (c - c0), block + (c - b * kSuperBlock), size_t(end - c) * 4);
    c = end;
  }
}

}  // namespace dsv3
