// The innermost loops, compiled once per instruction set (generic, AVX2, AVX-512) from one
// source (isa_kernels.inc) and picked at run time by the CPU's features. Everything above this
// table (gemm.cpp, linear.cpp, the model) is ISA-independent.
#pragma once
#include <cstdint>

namespace dsv3 {

// The scores of nh query heads against ns positions' two key parts (absorbed MLA: the latent
// c_KV and the RoPE key k_R, which every head shares):
//   y[h·ldy + s] += rs[s] · Σ_{i<dc} xc[h·ldxc + i] · kc_s[i] + Σ_{i<dr} xr[h·ldxr + i] · kr_s[i],
// kc_s = kc + s·ldkc and kr_s = kr + s·ldkr elements of the stored type; rs null means 1.
struct AttnScoreArgs {
  const float* xc;
  int64_t ldxc;
  const float* xr;
  int64_t ldxr;
  int64_t nh;
  const void* kc;
  int64_t ldkc, dc;
  const void* kr;
  int64_t ldkr, dr;
  int64_t ns;
  const float* rs = nullptr;
};

struct IsaKernels {
  const char* name;
  // out[i] = f32_to_bf16(in[i]) (round to nearest even, NaNs quieted): the BF16 GEMM's packing
  void (*round_bf16)(uint16_t* out, const float* in, int64_t n);
  // out[i] = widen(in[i]) (* scale for FP8)
  void (*widen_bf16)(float* out, const uint16_t* in, int64_t n);
  void (*widen_f16)(float* out, const uint16_t* in, int64_t n);
  void (*widen_fp8)(float* out, const uint8_t* in, int64_t n, float scale);
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float* y, float a, const float* x, int64_t n);  // y += a * x

  // Decode-shaped products, reading stored weight rows directly (no widened copy):
  //   y[t * ldy + r] = Σ_i x[t * ldx + i] · w_r[i]   for t < nt (1..4), r < nr, i < k.
  void (*gemv_f32)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const float* w, int64_t ldw,
                   int64_t nr, int64_t k);
  void (*gemv_bf16)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const uint16_t* w,
                    int64_t ldw, int64_t nr, int64_t k);
  // FP8: all nr rows share one row of block scales `scales` (one per `block` columns).
  void (*gemv_fp8)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const uint8_t* w, int64_t ldw,
                   int64_t nr, int64_t k, const float* scales, int64_t block);

  // The transposed product for few input rows, on a stored weight's rows [nr, ldw]:
  //   y[t * ldy + c] += Σ_{r<nr} x[t * ldx + r] · w_r[c]   for c < nc.
  // FP8 reads code values only: the caller folds each row's block scale into x.
  void (*gemv_t_f32)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const float* w, int64_t ldw,
                     int64_t nr, int64_t nc);
  void (*gemv_t_bf16)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const uint16_t* w,
                      int64_t ldw, int64_t nr, int64_t nc);
  void (*gemv_t_fp8)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const uint8_t* w, int64_t ldw,
                     int64_t nr, int64_t nc);

  // GEMM microkernel on packed panels: ap [k][mr], bp [k][nr]; writes (or adds to) the m x n
  // corner (m <= mr, n <= nr) of c with row stride ldc.
  int gemm_mr, gemm_nr;
  void (*gemm_micro)(const float* ap, const float* bp, int64_t k, float* c, int64_t ldc, int64_t m, int64_t n,
                     bool accumulate);

  // BF16 GEMM microkernel on BF16 dot-product instructions (vdpbf16ps), nullptr where the ISA has
  // none: ap [kp][bf16_mr] and bp [kp][bf16_nr] hold pairs of BF16 values (depth 2p in the low
  // half, 2p + 1 in the high half); c[m x n] (+)= Σ over the 2·kp depth, in float32.
  int bf16_mr, bf16_nr;
  void (*gemm_bf16_micro)(const uint32_t* ap, const uint32_t* bp, int64_t kp, float* c, int64_t ldc, int64_t m,
                          int64_t n, bool accumulate);
  // The BF16 dot-product ceiling, like fma_burn (nullptr without the instruction).
  float (*bf16_burn)(int64_t iters);
  int64_t bf16_burn_flops_per_iter;

  // Independent multiply-add chains held in registers: the core's float32 FMA ceiling.
  // Returns a value that depends on every chain (so nothing is optimized away).
  float (*fma_burn)(int64_t iters, float a, float b);
  int64_t fma_burn_flops_per_iter;

  // p[i] = e^(p[i] - shift) for i < n (softmax weights; -inf gives 0), vectorized.
  void (*exp_shift)(float* p, int64_t n, float shift);

  // Attention scores of nh heads sharing ns stored key rows (attention_kernels.inc): see AttnScoreArgs.
  // F32: both key parts float32; BF16: both BF16; FP8: kc E4M3 codes (times rs), kr BF16.
  void (*attn_scores_f32)(float* y, int64_t ldy, const AttnScoreArgs& a);
  void (*attn_scores_bf16)(float* y, int64_t ldy, const AttnScoreArgs& a);
  void (*attn_scores_fp8)(float* y, int64_t ldy, const AttnScoreArgs& a);

  // gemv_fp8 and gemv_bf16 on BF16 dot products (vdpbf16ps), the activations (times the block
  // scales) rounded to BF16 as DeepSeek's BF16 inference does (bf16_dot_kernels.inc); nullptr
  // where the ISA has none.
  void (*gemv_fp8_bf16)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const uint8_t* w,
                        int64_t ldw, int64_t nr, int64_t k, const float* scales, int64_t block);
  void (*gemv_bf16_bf16)(float* y, int64_t ldy, const float* x, int64_t ldx, int64_t nt, const uint16_t* w,
                         int64_t ldw, int64_t nr, int64_t k);
};

const IsaKernels& isa_kernels();           // the best the CPU supports (or DSV3_ISA=generic|avx2|avx512|avx512bf16)
const IsaKernels* isa_kernels_by_name(const char* name);  // nullptr if not built or not supported

const IsaKernels* isa_kernels_generic();
const IsaKernels* isa_kernels_avx2();
const IsaKernels* isa_kernels_avx512();
const IsaKernels* isa_kernels_avx512bf16();  // AVX-512 plus BF16 and VNNI dot products (Zen 4, Sapphire Rapids)

}  // namespace dsv3
