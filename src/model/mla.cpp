#include "model/mla.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/attention.h"
#include "kernels/linear.h"
#include "kernels/ops.h"
#include "kernels/precision_linear.h"
#include "kernels/profile.h"

namespace dsv3 {

namespace {

// Column block [c0, c0 + width) of every row of a [n, stride] matrix, made contiguous.
void gather_cols(float* dst, const float* src, int64_t n, int64_t stride, int64_t c0, int64_t width) {
  for (int64_t t = 0; t < n; ++t) std::memcpy(dst + t * width, src + t * stride + c0, size_t(width) * 4);
}
void scatter_cols(float* dst, const float* src, int64_t n, int64_t stride, int64_t c0, int64_t width) {
  for (int64_t t = 0; t < n; ++t) std::memcpy(dst + t * stride + c0, src + t * width, size_t(width) * 4);
}

// Applies RoPE to the last dr dims of each head of q [n, H·qk] at each row's position, and
// returns the positions' cos/sin tables [n, dr/2] for the shared key.
void rope_queries(float* q, int64_t n, const MlaDims& d, const Rope& rope, const int32_t* pos,
                  std::vector<float>& cos, std::vector<float>& sin) {
  cos.resize(size_t(n * d.dr / 2));
  sin.resize(size_t(n * d.dr / 2));
  for (int64_t t = 0; t < n; ++t) {
    float* c = cos.data() + t * d.dr / 2;
    float* s = sin.data() + t * d.dr / 2;
    rope.angles(pos[t], c, s);
    for (int64_t h = 0; h < d.H; ++h) rope.rotate(q + t * d.H * d.qk + h * d.qk + d.dn, c, s);
  }
}

// Splits row t of kv_a_proj_with_mqa's output [r + dr] into the latent c_KV = RMSNorm(c)
// (written to latent [r]) and the rotated shared key k_R (written to k_r [dr]).
void split_latent_row(float* latent, float* k_r, const float* kv_row, const MlaWeights& w, const MlaDims& d,
                      const MlaContext& ctx, const float* cos, const float* sin) {
  rmsnorm(latent, kv_row, w.kv_a_layernorm.data, 1, d.r, float(ctx.cfg.rms_norm_eps));
  std::memcpy(k_r, kv_row + d.r, size_t(d.dr) * 4);
  ctx.rope.rotate(k_r, cos, sin);
}

// attn rows idx [m] (row stride H·dv) in the absorbed form, attending over the latent cache
// directly: W_UK goes into each query, W_UV onto each output.
void attend_absorbed(float* attn, const float* q_all, const std::vector<int64_t>& idx, const MlaWeights& w,
                     const MlaContext& ctx, const RowPlacement& rows) {
  const MlaDims d(ctx.cfg);
  const int64_t n = int64_t(idx.size());
  // Buffers kept per thread across calls (decode calls this once per layer and token): no
  // allocation per call. References, so the parallel regions below share the caller's buffers
  // (a thread_local named inside a region would be each worker's own).
  thread_local std::vector<float> q_buf, q_lat_buf, o_lat_buf, o_buf;
  std::vector<float>& q = q_buf;
  std::vector<float>& q_lat = q_lat_buf;
  std::vector<float>& o_lat = o_lat_buf;
  std::vector<float>& o = o_buf;
  q.resize(size_t(n * d.H * d.qk));
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(q.data() + i * d.H * d.qk, q_all + idx[size_t(i)] * d.H * d.qk, size_t(d.H * d.qk) * 4);

  // q_lat[t, h] = q_C[t, h] · W_UK[h]   ([dn] x [dn, r] -> [r]).
  q_lat.resize(size_t(n * d.H * d.r));
  {
    const profile::Scope prof("attention.w_uk", rows.layer);
#pragma omp parallel for schedule(static) if (n * d.H * d.dn * d.r > (1 << 15))
    for (int64_t h = 0; h < d.H; ++h) {
      thread_local std::vector<float> qc, ql;
      qc.resize(size_t(n * d.dn)), ql.resize(size_t(n * d.r));
      gather_cols(qc.data(), q.data(), n, d.H * d.qk, h * d.qk, d.dn);
      if (!w.w_uk.empty())  // the file's W_UKᵀ rows (GGUF Q8_0): a plain product
        linear(ql.data(), qc.data(), n, w.w_uk.rows_slice(h * d.r, d.r));
      else
        linear_t(ql.data(), qc.data(), n, w.kv_b_proj.rows_slice(h * d.kvh, d.dn));
      scatter_cols(q_lat.data(), ql.data(), n, d.H * d.r, h * d.r, d.r);
    }
  }

  // Attention over the cached latents: o_lat[t, h] = Σ_s p_s · c_KV[s], all heads of a row in one
  // call (they share every cached row). Several rows go one per thread; a lone row (a decode
  // step) is split over the threads by positions inside latent_attention.
  o_lat.resize(size_t(n * d.H * d.r));
  {
    const profile::Scope prof("attention.latent", rows.layer);
    auto attend_row = [&](int64_t t) {
      const int64_t row = idx[size_t(t)];
      const SequenceCache& c = *rows.caches[rows.seq[row]];
      const LatentRows cache = c.rows(rows.layer, rows.pos[row] + 1);
      latent_attention(o_lat.data() + t * d.H * d.r, d.r, q_lat.data() + t * d.H * d.r, d.r,
                       q.data() + t * d.H * d.qk + d.dn, d.qk, d.H, d.r, d.dr, cache, ctx.softmax_scale);
    };
    // A lone row outside any parallel region: latent_attention's own region is then a top-level
    // one (the pooled threads), not nested inside an inactive one.
    if (n == 1) {
      attend_row(0);
    } else {
#pragma omp parallel for schedule(dynamic)
      for (int64_t t = 0; t < n; ++t) attend_row(t);
    }
  }

  // o[t, h] = W_UV[h] · o_lat[t, h]   ([dv, r] x [r] -> [dv]).
  o.resize(size_t(n * d.H * d.dv));
  const profile::Scope prof_uv("attention.w_uv", rows.layer);
#pragma omp parallel for schedule(static) if (n * d.H * d.dv * d.r > (1 << 15))
  for (int64_t h = 0; h < d.H; ++h) {
    thread_local std::vector<float> ol, oh;
    ol.resize(size_t(n * d.r)), oh.resize(size_t(n * d.dv));
    gather_cols(ol.data(), o_lat.data(), n, d.H * d.r, h * d.r, d.r);
    linear(oh.data(), ol.data(), n, w.w_uv.empty() ? w.kv_b_proj.rows_slice(h * d.kvh + d.dn, d.dv)
                                                    : w.w_uv.rows_slice(h * d.dv, d.dv));
    scatter_cols(o.data(), oh.data(), n, d.H * d.dv, h * d.dv, d.dv);
  }
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(attn + idx[size_t(i)] * d.H * d.dv, o.data() + i * d.H * d.dv, size_t(d.H * d.dv) * 4);
}

// Query rows of one head per attend() call: they share each read of a key tile (gemv_t takes
// them 8 at a time from registers, the tile stays in L1/L2 for the next 8); the block's later
// positions are masked for its earlier rows (at most 31 wasted positions per row). 32 rather
// than 8: a 4,096-token prefill took 16% less CPU time (user 25.7 s vs 30.6 s, one run each).
constexpr int64_t kQueryBlock = 32;

// kt [width, L] = the first width columns of rows 0..L-1 of a [L, stride] matrix, transposed:
// keys stored by dimension, as attend() reads them with keys_transposed.
void transpose_keys(float* kt, const float* src, int64_t L, int64_t stride, int64_t width) {
  for (int64_t s = 0; s < L; ++s)
    for (int64_t i = 0; i < width; ++i) kt[i * L + s] = src[s * stride + i];
}

// The decompressed attention of one head over one sequence: query rows i < n (q + i·ldq: the
// head's q_C [dn] then q_R [dr]) attend to positions s < end[i] <= L of the expanded keys and
// values (kvb + s·ldkv: the head's k_C [dn] then v [dv]) and the shared RoPE key, given
// transposed as kt_r [dr, L]; row i's output goes to attn + i·lda [dv] and, when probs is not
// null, its softmax weights to probs + i·ldp.
void attend_head(const MlaDims& d, float scale, const float* q, int64_t ldq, const int64_t* end, int64_t n,
                 const float* kvb, int64_t ldkv, const float* kt_r, int64_t L, float* attn, int64_t lda, float* probs,
                 int64_t ldp) {
  thread_local std::vector<float> kt_c;  // [dn, L]
  kt_c.resize(size_t(d.dn * L));
  transpose_keys(kt_c.data(), kvb, L, ldkv, d.dn);
  for (int64_t i0 = 0; i0 < n; i0 += kQueryBlock) {
    const int64_t nb = std::min(kQueryBlock, n - i0);
    const int64_t len = *std::max_element(end + i0, end + i0 + nb);
    const AttentionRows kv{DType::F32, kt_c.data(), L, d.dn, kt_r, L, d.dr, kvb + d.dn, ldkv, d.dv, len, true};
    attend(attn + i0 * lda, lda, {q + i0 * ldq, ldq, q + i0 * ldq + d.dn, ldq, nb, end + i0}, kv, scale,
           probs ? probs + i0 * ldp : nullptr, ldp);
  }
}

// Whether one sequence's rows of a cached forward attend more cheaply in the decompressed form
// (k_C and v expanded from the cache for all L positions, as DeepSeek's reference prefills)
// than in the absorbed one, counting multiply-adds: the expansion costs r·H·(dn+dv) per
// position; the absorbed form costs the same per row (W_UK into the query, W_UV out of the
// output) and attends over r + dr + r numbers per head and attended position instead of
// dn + dr + dv. So prompts (rows ≈ positions) decompress, decode steps (one row, many cached
// positions) stay absorbed.
bool decompress_cheaper(const MlaDims& d, int64_t rows, int64_t attended, int64_t L) {
  const double per_position = double(d.r) * double(d.H) * double(d.kvh);
  const double absorbed = double(rows) * per_position + double(attended) * double(d.H * (2 * d.r + d.dr));
  const double decompressed = double(L) * per_position + double(attended) * double(d.H * (d.dn + d.dr + d.dv));
  return decompressed < absorbed;
}

// Bytes of expanded keys and values held at once: heads are expanded in groups under this.
constexpr double kExpandBytes = 64.0 * (1 << 20);

// attn rows idx [m] (row stride H·dv) of one sequence in the decompressed form: its positions
// 0..L-1 are read back from the cache (already holding this forward's rows) and expanded through
// kv_b_proj, a group of heads at a time.
void attend_decompressed(float* attn, const float* q, const std::vector<int64_t>& idx, const MlaWeights& w,
                         const MlaContext& ctx, const RowPlacement& rows, const SequenceCache& cache) {
  const MlaDims d(ctx.cfg);
  const int64_t m = int64_t(idx.size());
  std::vector<float> qs(size_t(m * d.H * d.qk)), out(size_t(m * d.H * d.dv));
  std::vector<int64_t> end(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    std::memcpy(qs.data() + i * d.H * d.qk, q + idx[size_t(i)] * d.H * d.qk, size_t(d.H * d.qk) * 4);
    end[size_t(i)] = rows.pos[idx[size_t(i)]] + 1;
  }
  const int64_t L = *std::max_element(end.begin(), end.end());
  std::vector<float> latent(size_t(L * d.r)), k_r(size_t(L * d.dr)), kt_r(size_t(d.dr * L));
  for (int64_t s = 0; s < L; ++s) cache.load(rows.layer, s, latent.data() + s * d.r, k_r.data() + s * d.dr);
  transpose_keys(kt_r.data(), k_r.data(), L, d.dr, d.dr);
  const int64_t group = std::clamp<int64_t>(int64_t(kExpandBytes / (4.0 * double(L * d.kvh))), 1, d.H);
  std::vector<float> kvb;
  for (int64_t h0 = 0; h0 < d.H; h0 += group) {
    const int64_t nh = std::min(group, d.H - h0);
    kvb.resize(size_t(L * nh * d.kvh));
    linear(kvb.data(), latent.data(), L, w.kv_b_proj.rows_slice(h0 * d.kvh, nh * d.kvh));
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t h = h0; h < h0 + nh; ++h)
      attend_head(d, ctx.softmax_scale, qs.data() + h * d.qk, d.H * d.qk, end.data(), m,
                  kvb.data() + (h - h0) * d.kvh, nh * d.kvh, kt_r.data(), L, out.data() + h * d.dv, d.H * d.dv,
                  nullptr, 0);
  }
  for (int64_t i = 0; i < m; ++i)
    std::memcpy(attn + idx[size_t(i)] * d.H * d.dv, out.data() + i * d.H * d.dv, size_t(d.H * d.dv) * 4);
}

}  // namespace

void mla_queries(float* q, const float* x, int64_t n, const MlaWeights& w, const ModelConfig& cfg, Precision p,
                 std::vector<float>* cq_raw, std::vector<float>* cq) {
  if (cfg.q_lora_rank == 0) {
    linear_forward(q, x, n, w.q_proj, p);
    return;
  }
  std::vector<float> raw_local, cq_local;
  std::vector<float>& raw = cq_raw ? *cq_raw : raw_local;
  std::vector<float>& normed = cq ? *cq : cq_local;
  raw.resize(size_t(n * cfg.q_lora_rank));
  normed.resize(size_t(n * cfg.q_lora_rank));
  linear_forward(raw.data(), x, n, w.q_a_proj, p);
  rmsnorm(normed.data(), raw.data(), w.q_a_layernorm.data, n, cfg.q_lora_rank, float(cfg.rms_norm_eps));
  linear_forward(q, normed.data(), n, w.q_b_proj, p);
}

void mla_forward_cached(float* out, const float* x, int64_t n, const MlaWeights& w, const MlaContext& ctx,
                        const RowPlacement& rows) {
  const MlaDims d(ctx.cfg);
  std::vector<float> q(size_t(n * d.H * d.qk)), kv(size_t(n * (d.r + d.dr)));
  {
    const profile::Scope prof("attention.q_kv_proj", rows.layer);
    mla_queries(q.data(), x, n, w, ctx.cfg);
    linear(kv.data(), x, n, w.kv_a_proj_with_mqa);
  }
  std::vector<float> cos, sin;
  rope_queries(q.data(), n, d, ctx.rope, rows.pos, cos, sin);

  // c_KV = RMSNorm(latent), k_R = RoPE(shared key): exactly what the cache stores (rounded to
  // the cache's type).
  std::vector<float> latent(size_t(d.r)), k_r(size_t(d.dr));
  for (int64_t t = 0; t < n; ++t) {
    split_latent_row(latent.data(), k_r.data(), kv.data() + t * (d.r + d.dr), w, d, ctx, cos.data() + t * d.dr / 2,
                     sin.data() + t * d.dr / 2);
    rows.caches[rows.seq[t]]->store(rows.layer, rows.pos[t], latent.data(), k_r.data());
  }

  // Each sequence's rows attend in the cheaper form; the rest go through the absorbed one.
  std::vector<float> attn(size_t(n * d.H * d.dv));
  std::vector<std::vector<int64_t>> by_seq;  // row indices per sequence, in order of appearance
  std::vector<int32_t> seqs;
  for (int64_t t = 0; t < n; ++t) {
    const size_t i = size_t(std::find(seqs.begin(), seqs.end(), rows.seq[t]) - seqs.begin());
    if (i == seqs.size()) seqs.push_back(rows.seq[t]), by_seq.emplace_back();
    by_seq[i].push_back(t);
  }
  std::vector<int64_t> absorbed;
  for (size_t i = 0; i < seqs.size(); ++i) {
    int64_t attended = 0, L = 0;
    for (int64_t t : by_seq[i]) attended += rows.pos[t] + 1, L = std::max<int64_t>(L, rows.pos[t] + 1);
    if (decompress_cheaper(d, int64_t(by_seq[i].size()), attended, L)) {
      const profile::Scope prof("attention.decompressed", rows.layer);
      attend_decompressed(attn.data(), q.data(), by_seq[i], w, ctx, rows, *rows.caches[seqs[i]]);
    } else {
      absorbed.insert(absorbed.end(), by_seq[i].begin(), by_seq[i].end());
    }
  }
  if (!absorbed.empty()) attend_absorbed(attn.data(), q.data(), absorbed, w, ctx, rows);
  const profile::Scope prof("attention.o_proj", rows.layer);
  linear(out, attn.data(), n, w.o_proj);
}

void mla_forward(float* out, const float* x, const Rows& rows, const MlaWeights& w, const MlaContext& ctx,
                 Precision p, MlaActs* acts) {
  const MlaDims d(ctx.cfg);
  const int64_t n = rows.n(), T = rows.T;
  MlaActs local;
  MlaActs& a = acts ? *acts : local;
  a.q.resize(size_t(n * d.H * d.qk));
  mla_queries(a.q.data(), x, n, w, ctx.cfg, p, &a.cq_raw, &a.cq);
  std::vector<float> kv(size_t(n * (d.r + d.dr)));
  linear_forward(kv.data(), x, n, w.kv_a_proj_with_mqa, p);
  std::vector<int32_t> pos(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) pos[size_t(i)] = int32_t(i % T);
  std::vector<float> cos, sin;
  rope_queries(a.q.data(), n, d, ctx.rope, pos.data(), cos, sin);

  a.ckv.resize(size_t(n * d.r));
  a.latent.resize(size_t(n * d.r));
  a.k_r.resize(size_t(n * d.dr));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = kv.data() + i * (d.r + d.dr);
    std::memcpy(a.ckv.data() + i * d.r, row, size_t(d.r) * 4);
    split_latent_row(a.latent.data() + i * d.r, a.k_r.data() + i * d.dr, row, w, d, ctx, cos.data() + i * d.dr / 2,
                     sin.data() + i * d.dr / 2);
  }
  // [k_C ; v] for every token and head.
  a.kvb.resize(size_t(n * d.H * d.kvh));
  linear_forward(a.kvb.data(), a.latent.data(), n, w.kv_b_proj, p);

  // Each head attends over its own expanded keys and values (columns of kvb) and the shared
  // k_R, through the same kernel as decoding; probs keeps the weights for the backward.
  a.probs.resize(size_t(rows.B * d.H * T * T));  // row t: only columns 0..t are read
  a.attn.resize(size_t(n * d.H * d.dv));
  std::vector<int64_t> end(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) end[size_t(t)] = t + 1;  // causal
  std::vector<float> kt_r(size_t(rows.B * d.dr * T));  // per sequence [dr, T]
  for (int64_t b = 0; b < rows.B; ++b)
    transpose_keys(kt_r.data() + b * d.dr * T, a.k_r.data() + b * T * d.dr, T, d.dr, d.dr);
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
  for (int64_t b = 0; b < rows.B; ++b) {
    for (int64_t h = 0; h < d.H; ++h) {
      const int64_t row0 = b * T;
      attend_head(d, ctx.softmax_scale, a.q.data() + row0 * d.H * d.qk + h * d.qk, d.H * d.qk, end.data(), T,
                  a.kvb.data() + row0 * d.H * d.kvh + h * d.kvh, d.H * d.kvh, kt_r.data() + b * d.dr * T, T,
                  a.attn.data() + row0 * d.H * d.dv + h * d.dv, d.H * d.dv, a.probs.data() + (b * d.H + h) * T * T, T);
    }
  }
  linear_forward(out, a.attn.data(), n, w.o_proj, p);
}

}  // namespace dsv3
