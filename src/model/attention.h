// The core of MLA for one query row, the plain reference form (the full-sequence attention of
// model/mla.h that training differentiates; decoding runs its tiled specialisation over the
// latent cache, kernels/attention.h, checked against the same equations):
//
//   p_s = (q_C·k_C[s] + q_R·k_R[s]) · scale      s = 0..len-1 (causal: the row's own position last)
//   p   = softmax(p)
//   o   = Σ_s p_s · v[s]
//
// The naive form passes each head's expanded keys k_C [dn] and values v [dv]; the absorbed form
// passes the cached latents (q_C·W_UK against c_KV [r], and c_KV again as the "value" whose
// weighted sum W_UV later expands). Keys and values are rows of strided matrices, so both forms
// read them in place: the cache's layer rows, or one head's columns of kv_b_proj's output.
#pragma once
#include <cstdint>

namespace dsv3 {

// Row s of a strided matrix is data + s·stride.
struct StridedRows {
  const float* data;
  int64_t stride;
  const float* row(int64_t s) const { return data + s * stride; }
};

// The two-part query of one head: q_C against k_C (width dc) and q_R against k_R (width dr).
struct AttentionQuery {
  const float* c;
  int64_t dc;
  const float* r;
  int64_t dr;
};

// p [len] = the softmax-ed scores of the query against keys 0..len-1.
void attention_probs(float* p, const AttentionQuery& q, const StridedRows& k_c, const StridedRows& k_r, int64_t len,
                     float scale);

// o [dv] = Σ_s p_s · v[s]  (overwritten).
void attention_weighted_sum(float* o, const float* p, const StridedRows& v, int64_t dv, int64_t len);

}  // namespace dsv3
