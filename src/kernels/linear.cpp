#include "kernels/linear.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/gemm.h"
#include "kernels/isa_kernels.h"
#include "kernels/kquant.h"
#include "kernels/quant_linear.h"
#include "kernels/quant_weight.h"

namespace dsv3 {

namespace {

// Up to this many input rows a product reads each weight element once, straight from the
// stored dtype, for every row (decode, speculative verification, small batches); above, packing
// the weights for the GEMM pays off. Measured on a 306 M-parameter model (dsv3 bench, batch 8:
// 305 tokens/s through this path vs 134-153 through the GEMM; batch 16: the GEMM is faster).
constexpr int64_t kGemvMaxRows = 8;
constexpr int64_t kGemvRowChunk = 64;   // weight rows per task
constexpr int64_t kColTile = 512;       // linear_t (few rows): output columns per task
// Below this many multiply-adds a product runs on one thread: forking and joining a parallel
// region costs a few microseconds, what a core needs to stream ~64 KB of weights from DRAM (a
// [64, 1024] BF16 matrix: the router of a 64-expert layer).
constexpr double kParallelMinFlops = 1 << 15;

bool parallel_worth_it(int64_t n, int64_t R, int64_t C) {
  return double(n) * double(R) * double(C) >= kParallelMinFlops;
}

DecodeMath g_decode_math = DecodeMath::F32;

// Whether w's few-row products run on the BF16-dot kernels (bf16_dot_kernels.inc): FP8 under
// DecodeMath::Bf16 and Bf16All, BF16 under Bf16All, where the ISA has them.
bool on_bf16_dot(const Weight& w) {
  const IsaKernels& k = isa_kernels();
  return (g_decode_math == DecodeMath::Bf16All && w.dtype == DType::BF16 && k.gemv_bf16_bf16) ||
         (g_decode_math != DecodeMath::F32 && w.dtype == DType::F8_E4M3 && k.gemv_fp8_bf16);
}

// Weight rows per few-row task. The BF16-dot kernels round their inputs once per call, 8 inputs
// × 7168 columns for a call of 64 × 7168 weights, so their calls take twice as many rows (one FP8
// block row of 128).
int64_t gemv_chunk_rows(const Weight& w) { return on_bf16_dot(w) ? 2 * kGemvRowChunk : kGemvRowChunk; }

float fp8_scale(const Weight& w, int64_t r, int64_t c) {
  return w.scale_inv[((w.row0 + r) / w.block) * w.scale_cols + c / w.block];
}

// y[n, nr] for weight rows [r0, r0 + nr), n <= kGemvMaxRows, reading the stored dtype directly.
void gemv_rows(float* y, int64_t ldy, const float* x, int64_t n, const Weight& w, int64_t r0, int64_t nr) {
  const IsaKernels& k = isa_kernels();
  const int64_t C = w.cols;
  switch (w.dtype) {
    case DType::F32:
      k.gemv_f32(y, ldy, x, C, n, reinterpret_cast<const float*>(w.row_ptr(r0)), C, nr, C);
      return;
    case DType::BF16: {
      const auto gemv_bf16 = on_bf16_dot(w) ? k.gemv_bf16_bf16 : k.gemv_bf16;
      gemv_bf16(y, ldy, x, C, n, reinterpret_cast<const uint16_t*>(w.row_ptr(r0)), C, nr, C);
      return;
    }
    case DType::F8_E4M3: {
      const auto gemv_fp8 = on_bf16_dot(w) ? k.gemv_fp8_bf16 : k.gemv_fp8;
      for (int64_t r = r0; r < r0 + nr;) {  // rows sharing one row of block scales
        const int64_t end = std::min(r0 + nr, ((w.row0 + r) / w.block + 1) * w.block - w.row0);
        const float* scales = w.scale_inv + ((w.row0 + r) / w.block) * w.scale_cols;
        gemv_fp8(y + (r - r0), ldy, x, C, n, w.row_ptr(r), C, end - r, C, scales, w.block);
        r = end;
      }
      return;
    }
    default: {  // F16: widen each row, then the float32 kernel
      std::vector<float> row(static_cast<size_t>(C));
      for (int64_t r = r0; r < r0 + nr; ++r) {
        weight_row_f32(row.data(), w, r);
        k.gemv_f32(y + (r - r0), ldy, x, C, n, row.data(), C, 1, C);
      }
    }
  }
}

// y[t·ldy + c] += Σ_r x[t·R + r] · W[r][c0 + c] for c < nc (nc <= kColTile, a tile that does not
// straddle an FP8 block column).
void gemv_t_tile(float* y, int64_t ldy, const float* x, int64_t n, const Weight& w, int64_t c0, int64_t nc) {
  const IsaKernels& k = isa_kernels();
  const int64_t R = w.rows, C = w.cols;
  switch (w.dtype) {
    case DType::F32:
      k.gemv_t_f32(y, ldy, x, R, n, reinterpret_cast<const float*>(w.row_ptr(0)) + c0, C, R, nc);
      return;
    case DType::BF16:
      k.gemv_t_bf16(y, ldy, x, R, n, reinterpret_cast<const uint16_t*>(w.row_ptr(0)) + c0, C, R, nc);
      return;
    case DType::F8_E4M3: {  // each row's block scale for this column tile goes on its input
      thread_local std::vector<float> xs;
      xs.resize(size_t(n * R));
      for (int64_t r = 0; r < R;) {  // a block of rows at a time: one scale, no division per row
        const int64_t b = (w.row0 + r) / w.block, end = std::min(R, (b + 1) * w.block - w.row0);
        const float s = w.scale_inv[b * w.scale_cols + c0 / w.block];
        for (int64_t t = 0; t < n; ++t)
          for (int64_t i = r; i < end; ++i) xs[size_t(t * R + i)] = x[t * R + i] * s;
        r = end;
      }
      k.gemv_t_fp8(y, ldy, xs.data(), R, n, w.row_ptr(0) + c0, C, R, nc);
      return;
    }
    default:
      if (quant_linear_t_tile(y, ldy, x, n, w, c0, nc)) return;  // INT8, INT4: from the codes
      {  // F16 and act-order INT4: widen a span per row
      float span[kColTile];
      for (int64_t r = 0; r < R; ++r) {
        weight_row_span_f32(span, w, r, c0, nc);
        k.gemv_t_f32(y, ldy, x + r, R, n, span, nc, 1, nc);
      }
      }
  }
}

}  // namespace

void weight_row_span_f32(float* out, const Weight& w, int64_t r, int64_t c0, int64_t nc) {
  if (is_int_quantized(w)) return quant_row_span_f32(out, w, r, c0, nc);
  if (is_kquant(w)) return kquant_row_span_f32(out, w, r, c0, nc);
  const IsaKernels& k = isa_kernels();
  const uint8_t* row = w.row_ptr(r);
  switch (w.dtype) {
    case DType::F32: std::memcpy(out, row + 4 * c0, size_t(nc) * 4); break;
    case DType::BF16: k.widen_bf16(out, reinterpret_cast<const uint16_t*>(row) + c0, nc); break;
    case DType::F16: k.widen_f16(out, reinterpret_cast<const uint16_t*>(row) + c0, nc); break;
    case DType::F8_E4M3:
      for (int64_t c = c0; c < c0 + nc;) {
        const int64_t end = std::min(c0 + nc, (c / w.block + 1) * w.block);
        k.widen_fp8(out + (c - c0), row + c, end - c, fp8_scale(w, r, c));
        c = end;
      }
      break;
    default: std::memset(out, 0, size_t(nc) * 4); break;  // validated away at load time
  }
}

void weight_row_f32(float* out, const Weight& w, int64_t r) { weight_row_span_f32(out, w, r, 0, w.cols); }

namespace {
PrefillMath g_prefill_math = PrefillMath::F32;

// The environment variable `name` ("f32" or "bf16") overrides a command's default math;
// anything else is a one-line error. Math is PrefillMath or DecodeMath (same enumerators).
template <class Math>
Math math_from_env(const char* name, Math fallback) {
  const char* env = std::getenv(name);
  if (!env) return fallback;
  if (!std::strcmp(env, "f32")) return Math::F32;
  if (!std::strcmp(env, "bf16")) return Math::Bf16;
  if constexpr (std::is_same_v<Math, DecodeMath>) {
    if (!std::strcmp(env, "bf16-all")) return Math::Bf16All;
    fail(name, "=", env, ": expected f32, bf16 or bf16-all");
  }
  fail(name, "=", env, ": expected f32 or bf16");
}
}  // namespace

void set_prefill_math(PrefillMath m) { g_prefill_math = m; }

void set_prefill_math_default(PrefillMath fallback) {
  set_prefill_math(math_from_env("DSV3_PREFILL_MATH", fallback));
}
PrefillMath prefill_math() { return g_prefill_math; }

void set_decode_math(DecodeMath m) { g_decode_math = m; }
DecodeMath decode_math() { return g_decode_math; }
const char* decode_math_name(DecodeMath m) {
  return m == DecodeMath::F32 ? "f32" : m == DecodeMath::Bf16 ? "bf16" : "bf16-all";
}

void set_decode_math_default(DecodeMath fallback) {
  set_decode_math(math_from_env("DSV3_DECODE_MATH", fallback));
}

void linear(float* y, const float* x, int64_t n, const Weight& w) {
  if (is_int_quantized(w)) return quant_linear(y, x, n, w);
  if (is_kquant(w)) return kquant_linear(y, x, n, w);
  const int64_t R = w.rows, C = w.cols;
  if (n > kGemvMaxRows) {
    const bool bf16 = g_prefill_math == PrefillMath::Bf16 && isa_kernels().gemm_bf16_micro &&
                      (w.dtype == DType::BF16 || w.dtype == DType::F8_E4M3);
    if (bf16) gemm_bf16(y, R, n, R, C, {x, C, false}, w);
    else gemm(y, R, n, R, C, {x, C, false}, {&w, false}, false);
    return;
  }
  const int64_t chunks = row_chunk_count(R, gemv_chunk_rows(w));
#pragma omp parallel for schedule(static) if (parallel_worth_it(n, R, C))
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t r0 = row_chunk_begin(R, ch, chunks), r1 = row_chunk_begin(R, ch + 1, chunks);
    if (r1 > r0) gemv_rows(y + r0, R, x, n, w, r0, r1 - r0);
  }
}

int64_t row_chunk_count(int64_t R, int64_t max_rows) {
  const int64_t threads = num_threads();
  return ((R + max_rows - 1) / max_rows + threads - 1) / threads * threads;
}

void linear_batch(const LinearJob* jobs, size_t count) {
  // The few-row products' weight rows as equal chunks, split statically: each thread streams
  // about the same number of bytes, in one parallel region for the whole batch. INT8/INT4
  // products take part too: their inputs are quantized first, once per distinct input (gate and
  // up of an expert share x), into buffers kept across calls.
  struct Task {
    const LinearJob* job;
    int64_t acts;  // index into `quantized`, or -1 for a float kernel
    int64_t r0, nr;
  };
  thread_local std::vector<Task> tasks;
  thread_local std::vector<QuantActs> quantized;
  thread_local std::vector<LinearJob> kquants;  // run in their own region (kernels/kquant.h)
  tasks.clear();
  kquants.clear();
  size_t n_quantized = 0;
  double flops = 0;
  for (size_t j = 0; j < count; ++j) {
    const LinearJob& b = jobs[j];
    if (is_kquant(b.w)) {  // any row count: their own kernels, each distinct input quantized once
      kquants.push_back(b);
      continue;
    }
    if (b.n > kGemvMaxRows) {  // the GEMM, or the integer formats' prefill kernels
      linear(b.y, b.x, b.n, b.w);
      continue;
    }
    int64_t acts = -1;
    if (is_int_quantized(b.w)) {
      for (size_t q = 0; q < n_quantized && acts < 0; ++q)
        if (quant_acts_fit(quantized[q], b.x, b.n, b.w)) acts = int64_t(q);
      if (acts < 0) {
        if (n_quantized == quantized.size()) quantized.emplace_back();
        quantize_for(quantized[n_quantized], b.x, b.n, b.w);
        acts = int64_t(n_quantized++);
      }
    }
    const int64_t chunk = acts < 0 ? gemv_chunk_rows(b.w) : kGemvRowChunk;
    for (int64_t r0 = 0; r0 < b.w.rows; r0 += chunk) tasks.push_back({&b, acts, r0, std::min(chunk, b.w.rows - r0)});
    flops += double(b.n) * double(b.w.rows) * double(b.w.cols);
  }
  const int64_t n_tasks = int64_t(tasks.size());
  const Task* task = tasks.data();
  const QuantActs* quant = quantized.data();
#pragma omp parallel for schedule(static) if (flops >= kParallelMinFlops)
  for (int64_t i = 0; i < n_tasks; ++i) {
    const Task& t = task[i];
    const LinearJob& b = *t.job;
    if (t.acts >= 0) quant_linear_rows(b.y, b.w.rows, quant[t.acts], b.w, t.r0, t.nr);
    else gemv_rows(b.y + t.r0, b.w.rows, b.x, b.n, b.w, t.r0, t.nr);
  }
  if (!kquants.empty()) kquant_linear_batch(kquants.data(), kquants.size());
}

void linear_t(float* y, const float* x, int64_t n, const Weight& w) {
  const int64_t R = w.rows, C = w.cols;
  if (n > kGemvMaxRows) {
    gemm(y, C, n, C, R, {x, R, false}, {&w, true}, false);
    return;
  }
  // Few rows: y[t] = Σ_r x[t, r] · W[r], each weight row read once per column tile, straight
  // from its stored dtype.
  const bool blocks = w.dtype == DType::F8_E4M3;  // a scale per block column
  const int64_t tile = blocks ? std::min<int64_t>(kColTile, w.block) : kColTile;
  const int64_t col_tiles = (C + tile - 1) / tile;
#pragma omp parallel for schedule(static) if (parallel_worth_it(n, R, C))
  for (int64_t ct = 0; ct < col_tiles; ++ct) {
    const int64_t c0 = ct * tile, nc = std::min(tile, C - c0);
    for (int64_t t = 0; t < n; ++t) std::memset(y + t * C + c0, 0, size_t(nc) * 4);
    gemv_t_tile(y + c0, C, x, n, w, c0, nc);
  }
}

void linear_dw(float* dw, const float* dy, const float* x, int64_t n, int64_t R, int64_t C) {
  // dW[r, c] += Σ_t dy[t, r] · x[t, c]: A = dyᵀ (k-major), B(c, t) = x[t][c] (a transposed view).
  const Weight xw = f32_weight(x, n, C);
  gemm(dw, C, R, C, n, {dy, R, true}, {&xw, true}, true);
}

}  // namespace dsv3
