// The attention kernel (flash-style, tiled) against a plain two-pass softmax in double, across
// tile boundaries: the absorbed form (latent as key and value), and the decompressed form (own
// keys and values, causally masked query blocks, recorded softmax weights); a head's result
// independent of how many heads share the call;
// a paged cache against the contiguous one; the heads x positions score kernels of every
// instruction set, and long caches split into chunks (split-K softmax merge), against double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention.h"
#include "kernels/isa_kernels.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::random_vec;

TEST(LatentAttention, MatchesTwoPassSoftmaxInDouble) {
  const int64_t r = 40, dr = 8, nh = 5;
  const float scale = 0.3f;
  for (int64_t len : {1, 63, 64, 65, 200}) {
    const auto kv = random_vec(size_t(len * r), 1, 1.0f), pe = random_vec(size_t(len * dr), 2, 1.0f);
    const auto ql = random_vec(size_t(nh * r), 3, 1.0f), qp = random_vec(size_t(nh * dr), 4, 1.0f);
    std::vector<float> o(size_t(nh * r));
    latent_attention(o.data(), r, ql.data(), r, qp.data(), dr, nh, r, dr, {DType::F32, kv.data(), r, pe.data(), dr, len}, scale);
    for (int64_t h = 0; h < nh; ++h) {
      std::vector<double> p(static_cast<size_t>(len));
      double mx = -1e300, sum = 0;
      for (int64_t s = 0; s < len; ++s) {
        double d = 0;
        for (int64_t i = 0; i < r; ++i) d += double(ql[size_t(h * r + i)]) * kv[size_t(s * r + i)];
        for (int64_t i = 0; i < dr; ++i) d += double(qp[size_t(h * dr + i)]) * pe[size_t(s * dr + i)];
        p[size_t(s)] = d * scale;
        mx = std::max(mx, p[size_t(s)]);
      }
      for (auto& v : p) sum += (v = std::exp(v - mx));
      for (int64_t i = 0; i < r; ++i) {
        double ref = 0;
        for (int64_t s = 0; s < len; ++s) ref += p[size_t(s)] / sum * kv[size_t(s * r + i)];
        ASSERT_NEAR(o[size_t(h * r + i)], ref, 2e-5) << "len=" << len << " h=" << h << " i=" << i;
      }
    }
  }
}

// A BF16 cache: the same attention over the BF16-rounded latents and keys.
TEST(LatentAttention, Bf16CacheMatchesRoundedValues) {
  const int64_t r = 48, dr = 16, nh = 3, len = 150;
  auto kv = random_vec(size_t(len * r), 9, 1.0f), pe = random_vec(size_t(len * dr), 10, 1.0f);
  const auto ql = random_vec(size_t(nh * r), 11, 1.0f), qp = random_vec(size_t(nh * dr), 12, 1.0f);
  std::vector<uint16_t> kvb(kv.size()), peb(pe.size());
  for (size_t i = 0; i < kv.size(); ++i) kv[i] = bf16_to_f32(kvb[i] = f32_to_bf16(kv[i]));
  for (size_t i = 0; i < pe.size(); ++i) pe[i] = bf16_to_f32(peb[i] = f32_to_bf16(pe[i]));
  std::vector<float> ob(size_t(nh * r)), of(size_t(nh * r));
  latent_attention(ob.data(), r, ql.data(), r, qp.data(), dr, nh, r, dr, {DType::BF16, kvb.data(), r, peb.data(), dr, len}, 0.2f);
  latent_attention(of.data(), r, ql.data(), r, qp.data(), dr, nh, r, dr, {DType::F32, kv.data(), r, pe.data(), dr, len}, 0.2f);
  for (size_t i = 0; i < ob.size(); ++i) ASSERT_NEAR(ob[i], of[i], 1e-5) << i;
}

TEST(LatentAttention, AHeadsResultDoesNotDependOnTheGroup) {
  const int64_t r = 33, dr = 6, nh = 4, len = 130;
  const auto kv = random_vec(size_t(len * r), 5, 1.0f), pe = random_vec(size_t(len * dr), 6, 1.0f);
  const auto ql = random_vec(size_t(nh * r), 7, 2.0f), qp = random_vec(size_t(nh * dr), 8, 2.0f);
  const LatentRows cache{DType::F32, kv.data(), r, pe.data(), dr, len};
  std::vector<float> all(size_t(nh * r)), one(static_cast<size_t>(r));
  latent_attention(all.data(), r, ql.data(), r, qp.data(), dr, nh, r, dr, cache, 0.5f);
  for (int64_t h = 0; h < nh; ++h) {
    latent_attention(one.data(), r, ql.data() + h * r, r, qp.data() + h * dr, dr, 1, r, dr, cache, 0.5f);
    for (int64_t i = 0; i < r; ++i) ASSERT_EQ(one[size_t(i)], all[size_t(h * r + i)]) << "h=" << h;
  }
}

// The full-sequence form: keys and values of different widths in one strided matrix (or the
// keys transposed, stored by dimension), query rows masked at their own positions, and the
// softmax weights kept for the backward.
TEST(Attend, MaskedQueryBlockWithOwnValuesMatchesEachRowAloneInDouble) {
  const int64_t dc = 24, dr = 8, dv = 20, ld = dc + dv, nq = 5, len = 140;
  const auto kvb = random_vec(size_t(len * ld), 21, 1.0f), kr = random_vec(size_t(len * dr), 22, 1.0f);
  const auto q = random_vec(size_t(nq * (dc + dr)), 23, 1.0f);
  std::vector<float> kt_c(size_t(dc * len)), kt_r(size_t(dr * len));
  for (int64_t s = 0; s < len; ++s) {
    for (int64_t i = 0; i < dc; ++i) kt_c[size_t(i * len + s)] = kvb[size_t(s * ld + i)];
    for (int64_t i = 0; i < dr; ++i) kt_r[size_t(i * len + s)] = kr[size_t(s * dr + i)];
  }
  const int64_t end[nq] = {1, 64, 65, 100, 140};  // across tile boundaries
  const float scale = 0.25f;
  for (const bool transposed : {false, true}) {
    const AttentionRows kv = transposed
        ? AttentionRows{DType::F32, kt_c.data(), len, dc, kt_r.data(), len, dr, kvb.data() + dc, ld, dv, len, true}
        : AttentionRows{DType::F32, kvb.data(), ld, dc, kr.data(), dr, dr, kvb.data() + dc, ld, dv, len};
    std::vector<float> o(size_t(nq * dv)), probs(size_t(nq * len), -1.0f);
    attend(o.data(), dv, {q.data(), dc + dr, q.data() + dc, dc + dr, nq, end}, kv, scale, probs.data(), len);
    for (int64_t j = 0; j < nq; ++j) {
      std::vector<double> p(static_cast<size_t>(end[j]));
      double mx = -1e300, sum = 0;
      for (int64_t s = 0; s < end[j]; ++s) {
        double d = 0;
        for (int64_t i = 0; i < dc; ++i) d += double(q[size_t(j * (dc + dr) + i)]) * kvb[size_t(s * ld + i)];
        for (int64_t i = 0; i < dr; ++i) d += double(q[size_t(j * (dc + dr) + dc + i)]) * kr[size_t(s * dr + i)];
        mx = std::max(mx, p[size_t(s)] = d * scale);
      }
      for (auto& v : p) sum += (v = std::exp(v - mx));
      for (int64_t s = 0; s < len; ++s)
        ASSERT_NEAR(probs[size_t(j * len + s)], s < end[j] ? p[size_t(s)] / sum : 0.0, 1e-6)
            << "transposed=" << transposed << " j=" << j << " s=" << s;
      for (int64_t i = 0; i < dv; ++i) {
        double ref = 0;
        for (int64_t s = 0; s < end[j]; ++s) ref += p[size_t(s)] / sum * kvb[size_t(s * ld + dc + i)];
        ASSERT_NEAR(o[size_t(j * dv + i)], ref, 2e-5) << "transposed=" << transposed << " j=" << j << " i=" << i;
      }
      // Bit for bit what the row gets attending alone to its own positions (masking adds zeros).
      std::vector<float> alone(static_cast<size_t>(dv));
      AttentionRows own = kv;
      own.len = end[j];
      attend(alone.data(), dv, {q.data() + j * (dc + dr), dc + dr, q.data() + j * (dc + dr) + dc, dc + dr, 1}, own,
             scale);
      for (int64_t i = 0; i < dv; ++i)
        ASSERT_EQ(alone[size_t(i)], o[size_t(j * dv + i)]) << "transposed=" << transposed << " j=" << j << " i=" << i;
    }
  }
}

// A paged cache (pages of 16 positions, each [c_KV 16 x r | k_R 16 x dr] after a header,
// stored out of order) gives the contiguous cache's attention.
TEST(LatentAttention, PagedCacheMatchesContiguous) {
  const int64_t r = 24, dr = 8, nh = 3, len = 100, P = 16, pages = (len + P - 1) / P, header = 5;
  const auto kv = random_vec(size_t(len * r), 13, 1.0f), pe = random_vec(size_t(len * dr), 14, 1.0f);
  const auto ql = random_vec(size_t(nh * r), 15, 1.0f), qp = random_vec(size_t(nh * dr), 16, 1.0f);
  const int64_t page_floats = header + P * (r + dr);
  std::vector<float> store(size_t(pages * page_floats), 0.0f);
  std::vector<const uint8_t*> table(static_cast<size_t>(pages));
  for (int64_t p = 0; p < pages; ++p) {
    float* page = store.data() + (pages - 1 - p) * page_floats;  // reversed order in memory
    table[size_t(p)] = reinterpret_cast<const uint8_t*>(page);
    for (int64_t s = p * P; s < std::min(len, (p + 1) * P); ++s) {
      std::copy_n(kv.data() + s * r, r, page + header + (s - p * P) * r);
      std::copy_n(pe.data() + s * dr, dr, page + header + P * r + (s - p * P) * dr);
    }
  }
  LatentRows paged{DType::F32, nullptr, r, nullptr, dr, len};
  paged.pages = table.data();
  paged.page_len = P;
  paged.kv_offset = header * 4;
  paged.pe_offset = (header + P * r) * 4;
  std::vector<float> op(size_t(nh * r)), oc(size_t(nh * r));
  latent_attention(op.data(), r, ql.data(), r, qp.data(), dr, nh, r, dr, paged, 0.3f);
  latent_attention(oc.data(), r, ql.data(), r, qp.data(), dr, nh, r, dr, {DType::F32, kv.data(), r, pe.data(), dr, len}, 0.3f);
  for (size_t i = 0; i < op.size(); ++i) ASSERT_NEAR(op[i], oc[i], 1e-5) << i;
}

// The absorbed attention of head h in double: softmax_s(scale · (q_lat·kv[s] + q_pe·pe[s])) · kv.
std::vector<double> latent_reference(const std::vector<float>& kv, const std::vector<float>& pe, const float* ql,
                                     const float* qp, int64_t len, int64_t r, int64_t dr, float scale) {
  std::vector<double> p(static_cast<size_t>(len)), o(static_cast<size_t>(r), 0.0);
  double mx = -1e300, sum = 0;
  for (int64_t s = 0; s < len; ++s) {
    double d = 0;
    for (int64_t i = 0; i < r; ++i) d += double(ql[i]) * kv[size_t(s * r + i)];
    for (int64_t i = 0; i < dr; ++i) d += double(qp[i]) * pe[size_t(s * dr + i)];
    mx = std::max(mx, p[size_t(s)] = d * scale);
  }
  for (auto& v : p) sum += (v = std::exp(v - mx));
  for (int64_t s = 0; s < len; ++s)
    for (int64_t i = 0; i < r; ++i) o[size_t(i)] += p[size_t(s)] / sum * kv[size_t(s * r + i)];
  return o;
}

// Caches longer than a chunk (kLatentChunk positions) are attended chunk by chunk and merged:
// lengths at and around the chunk and tile boundaries, F32 and BF16 rows (BF16 against the
// rounded values), a width with a tail past the vectors (r = 37).
TEST(LatentAttention, LongCachesAcrossChunksMatchDouble) {
  const int64_t r = 37, dr = 8, nh = 5;
  for (int64_t len : {int64_t(1), int64_t(17), kLatentChunk - 1, kLatentChunk, kLatentChunk + 1, 2 * kLatentChunk + 77,
                      int64_t(4095)}) {
    auto kv = random_vec(size_t(len * r), 31, 1.0f), pe = random_vec(size_t(len * dr), 32, 1.0f);
    const auto ql = random_vec(size_t(nh * r), 33, 1.0f), qp = random_vec(size_t(nh * dr), 34, 1.0f);
    std::vector<uint16_t> kvb(kv.size()), peb(pe.size());
    for (size_t i = 0; i < kv.size(); ++i) kvb[i] = f32_to_bf16(kv[i]);
    for (size_t i = 0; i < pe.size(); ++i) peb[i] = f32_to_bf16(pe[i]);
    std::vector<float> of(size_t(nh * r)), ob(size_t(nh * r));
    latent_attention(of.data(), r, ql.data(), r, qp.data(), dr, nh, r, dr, {DType::F32, kv.data(), r, pe.data(), dr, len},
                     0.2f);
    latent_attention(ob.data(), r, ql.data(), r, qp.data(), dr, nh, r, dr, {DType::BF16, kvb.data(), r, peb.data(), dr, len},
                     0.2f);
    for (size_t i = 0; i < kv.size(); ++i) kv[i] = bf16_to_f32(kvb[i]);
    for (size_t i = 0; i < pe.size(); ++i) pe[i] = bf16_to_f32(peb[i]);
    for (int64_t h = 0; h < nh; ++h) {
      const auto ref_f = latent_reference(random_vec(size_t(len * r), 31, 1.0f), random_vec(size_t(len * dr), 32, 1.0f),
                                          ql.data() + h * r, qp.data() + h * dr, len, r, dr, 0.2f);
      const auto ref_b = latent_reference(kv, pe, ql.data() + h * r, qp.data() + h * dr, len, r, dr, 0.2f);
      for (int64_t i = 0; i < r; ++i) {
        ASSERT_NEAR(of[size_t(h * r + i)], ref_f[size_t(i)], 2e-5) << "len=" << len << " h=" << h << " i=" << i;
        ASSERT_NEAR(ob[size_t(h * r + i)], ref_b[size_t(i)], 2e-5) << "bf16 len=" << len << " h=" << h << " i=" << i;
      }
    }
  }
}

// The score kernels of every instruction set against double (both key parts, FP8's row scales),
// for head and position counts around the register tile and widths around the vector length; a
// (head, position)'s score does not depend on how many share the call (bit for bit), and the
// kernel adds onto y.
TEST(AttnScores, EveryInstructionSetMatchesDoubleAndIsTileFree) {
  const int64_t nh = 7, ns = 9, dr = 9, ldxr = dr + 1, ldkr = dr + 2;
  const auto xr = random_vec(size_t(nh * ldxr), 43, 1.0f), kr = random_vec(size_t(ns * ldkr), 44, 1.0f);
  const auto rs = random_vec(size_t(ns), 45, 1.0f);
  std::vector<uint16_t> krb(kr.size());
  for (size_t i = 0; i < kr.size(); ++i) krb[i] = f32_to_bf16(kr[i]);
  for (const char* isa : {"generic", "avx2", "avx512", "avx512bf16"}) {
    const IsaKernels* k = isa_kernels_by_name(isa);
    if (!k) continue;
    for (int64_t dc : {1, 15, 16, 17, 64, 131}) {
      const int64_t ldxc = dc + 3, ldkc = dc + 5;
      const auto xc = random_vec(size_t(nh * ldxc), 41, 1.0f), kc = random_vec(size_t(ns * ldkc), 42, 1.0f);
      std::vector<uint16_t> kcb(kc.size());
      std::vector<uint8_t> kc8(kc.size());
      for (size_t i = 0; i < kc.size(); ++i) kcb[i] = f32_to_bf16(kc[i]), kc8[i] = f32_to_fp8_e4m3(kc[i]);
      for (const DType dt : {DType::F32, DType::BF16, DType::F8_E4M3}) {
        const bool f32 = dt == DType::F32, bf16 = dt == DType::BF16;
        auto run = [&](float* y, int64_t ldy, int64_t h0, int64_t n_h, int64_t s0, int64_t n_s) {
          const size_t c0 = size_t(s0 * ldkc), r0 = size_t(s0 * ldkr);
          const void* c = f32 ? static_cast<const void*>(kc.data() + c0)
                              : bf16 ? static_cast<const void*>(kcb.data() + c0) : kc8.data() + c0;
          const void* r = f32 ? static_cast<const void*>(kr.data() + r0) : krb.data() + r0;
          const AttnScoreArgs a{xc.data() + h0 * ldxc, ldxc, xr.data() + h0 * ldxr, ldxr, n_h, c, ldkc, dc,
                                r, ldkr, dr, n_s, f32 || bf16 ? nullptr : rs.data() + s0};
          (f32 ? k->attn_scores_f32 : bf16 ? k->attn_scores_bf16 : k->attn_scores_fp8)(y, ldy, a);
        };
        std::vector<float> y(size_t(nh * ns), 0.5f);
        run(y.data(), ns, 0, nh, 0, ns);
        for (int64_t h = 0; h < nh; ++h)
          for (int64_t s = 0; s < ns; ++s) {
            double c = 0, r = 0, mag = 0;
            for (int64_t i = 0; i < dc; ++i) {
              const size_t ki = size_t(s * ldkc + i);
              const double kval = f32 ? kc[ki] : bf16 ? bf16_to_f32(kcb[ki]) : fp8_e4m3_to_f32(kc8[ki]);
              c += double(xc[size_t(h * ldxc + i)]) * kval;
              mag += std::fabs(double(xc[size_t(h * ldxc + i)]) * kval);
            }
            for (int64_t i = 0; i < dr; ++i) {
              const size_t ki = size_t(s * ldkr + i);
              r += double(xr[size_t(h * ldxr + i)]) * (f32 ? kr[ki] : bf16_to_f32(krb[ki]));
              mag += std::fabs(double(xr[size_t(h * ldxr + i)]) * kr[ki]);
            }
            const double rsc = f32 || bf16 ? 1.0 : rs[size_t(s)];
            const double ref = 0.5 + c * rsc + r;
            const float got = y[size_t(h * ns + s)];
            ASSERT_NEAR(got, ref, 4e-6 * (mag * (1 + std::fabs(rsc)) + 1)) << isa << " dc=" << dc << " h=" << h << " s=" << s;
            float one = 0.5f;
            run(&one, 1, h, 1, s, 1);
            ASSERT_EQ(one, got) << isa << " dc=" << dc << " h=" << h << " s=" << s;
          }
      }
    }
  }
}

// The softmax exponent on every instruction set: within 2 ulp of expf (0 below e^-87.3 and for
// -inf), and an element's value independent of its place in the array (vector body or tail).
TEST(ExpShift, EveryInstructionSetIsWithinTwoUlpOfExpfAndPositionFree) {
  std::vector<float> x;
  for (int i = 0; i <= 4000; ++i) x.push_back(-100.0f + 0.025f * float(i) + 1e-4f * float(i % 7));
  x.push_back(-std::numeric_limits<float>::infinity());
  x.push_back(0.0f);
  for (const char* isa : {"generic", "avx2", "avx512", "avx512bf16"}) {
    const IsaKernels* k = isa_kernels_by_name(isa);
    if (!k) continue;
    std::vector<float> y = x;
    k->exp_shift(y.data(), int64_t(y.size()), 1.5f);
    for (size_t i = 0; i < x.size(); ++i) {
      const float ref = std::exp(x[i] - 1.5f);
      if (x[i] - 1.5f < -87.3f) ASSERT_EQ(y[i], 0.0f) << isa << " x=" << x[i];
      else ASSERT_NEAR(y[i], ref, 2.4e-7f * ref) << isa << " x=" << x[i];
      float one = x[i];
      k->exp_shift(&one, 1, 1.5f);
      ASSERT_EQ(one, y[i]) << isa << " x=" << x[i];
    }
  }
}

}  // namespace
}  // namespace dsv3
