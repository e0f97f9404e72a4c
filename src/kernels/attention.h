// The attention of Multi-head Latent Attention, written once for both of its forms:
//
//   o[h] = Σ_s softmax_s(scale · (q_c[h]·k_c[s] + q_r[h]·k_r[s])) · v[s]
//
// - absorbed (decode, mla_forward_cached): k_c = v = the cached latent c_KV [r], q_c = q_C·W_UK,
//   k_r the cached shared RoPE key; all heads attend to the same rows (latent_attention);
// - full sequence (training, mla_forward): one head's expanded k_C [dn] and v [dv], columns of
//   kv_b_proj's output, and the shared k_R; the softmax weights are recorded for the backward.
// Flash-style: positions in tiles with a running max and sum per head (one pass over the keys);
// a tile's rows are read from memory once for all nh heads of a call (stored rows: a heads x
// positions register tile, attention_kernels.inc; transposed keys and the weighted sum: the
// ISA's GEMV kernels; all reading the stored dtype in place). A head's result does not depend on nh.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace dsv3 {

// The rows attended to, read in place: position s has the key parts k_c[s] (dc values) and
// k_r[s] (dr values) and the value v[s] (dv values), each row s of a strided matrix
// (element s·stride); all three of one dtype, F32, BF16 or F8_E4M3 (see scales). With keys_transposed (F32 only) the
// keys are stored by dimension instead: element i of k_c[s] at k_c + i·k_c_stride + s (and so
// for k_r), so that scores run along positions, one vector of positions per multiply-add, with
// no horizontal sum per key (the decompressed form's short keys: dn = 128 values per head).
struct AttentionRows {
  DType dtype;
  const void* k_c;
  int64_t k_c_stride, dc;
  const void* k_r;
  int64_t k_r_stride, dr;
  const void* v;
  int64_t v_stride, dv;
  int64_t len;  // positions 0..len-1 are attended to
  bool keys_transposed = false;
  // Paged (pages set; rows only, not transposed): position s is row i = s % page_len of page
  // s / page_len, each part's row 0 at its byte offset within the page (k_c, k_r, v unused). A
  // tile never spans two pages. Pages let sequences share the cached rows of a common prefix.
  const uint8_t* const* pages = nullptr;
  int64_t page_len = 0, k_c_offset = 0, k_r_offset = 0, v_offset = 0;
  // F8_E4M3 (the latent cache's FP8 form; v and k_c are then the same rows): k_c's and v's values
  // are e4m3(code) · scales[s], a scale per position; k_r is BF16. Paged, the scales of a page's
  // rows start at byte scale_offset of the page.
  const float* scales = nullptr;
  int64_t scale_offset = 0;
};

// n query rows that attend to the same keys and values: the heads of one decode row (absorbed
// form), or one head's rows at consecutive positions (full-sequence form). Row j's parts are
// c + j·ldc [dc] and r + j·ldr [dr]; it attends to positions s < end[j] (causal masking of a
// block of positions), or to all kv.len positions when end is null.
struct AttentionQueries {
  const float* c;
  int64_t ldc;
  const float* r;
  int64_t ldr;
  int64_t n;
  const int64_t* end = nullptr;  // [n], each in 1..kv.len
};

// o [q.n, dv] (row stride ldo) for queries sharing kv. probs, if not null, receives the
// softmax weights [q.n, kv.len] (row stride ldp; 0 past a row's end).
void attend(float* o, int64_t ldo, const AttentionQueries& q, const AttentionRows& kv, float scale,
            float* probs = nullptr, int64_t ldp = 0);

// One sequence's cached rows for one layer, stored as dtype (F32, BF16 or F8_E4M3): position s has the
// latent c_KV at element s·kv_stride of kv (kv_lora_rank values) and the rotated shared key k_R
// at element s·pe_stride of pe (qk_rope_head_dim values).
// Paged (pages set): position s is row i = s % page_len of page s / page_len instead, its c_KV
// at byte kv_offset + element i·kv_stride of that page, its k_R at byte pe_offset + i·pe_stride
// (kv and pe unused). Pages let sequences share the pages of a common prefix.
struct LatentRows {
  DType dtype;
  const void* kv;
  int64_t kv_stride;
  const void* pe;
  int64_t pe_stride;
  int64_t len;  // positions 0..len-1 are attended to
  const uint8_t* const* pages = nullptr;
  int64_t page_len = 0, kv_offset = 0, pe_offset = 0;
  // F8_E4M3: position s's c_KV is e4m3(code) · scales[s], its k_R BF16; paged, a page's scales
  // start at byte scale_offset of the page.
  const float* scales = nullptr;
  int64_t scale_offset = 0;
};

// The absorbed form: attend() with c_KV as both key part and value, all nh heads reading each
// cached row once (pass all heads in one call).
// q_lat [nh, r] (row stride ldq), q_pe [nh, dr] (row stride ldp), o [nh, r] (row stride ldo).
void latent_attention(float* o, int64_t ldo, const float* q_lat, int64_t ldq, const float* q_pe, int64_t ldp,
                      int64_t nh, int64_t r, int64_t dr, const LatentRows& cache, float scale);

// latent_attention splits a long cache into chunks of kLatentChunk positions, attended in
// parallel (the OpenMP threads, unless called inside a parallel region) and merged as split-K
// softmax partials: one row's decode step keeps both threads on the cache, each reading its own
// half once for all heads. A function of the length alone, so results do not depend on threads.
constexpr int64_t kLatentChunk = 512;
int64_t latent_chunks(int64_t len);

}  // namespace dsv3
