#include "core/int_quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/block_scale.h"
#include "core/dtype.h"

namespace dsv3 {

namespace {
int8_t int8_code(float x) { return int8_t(std::clamp(std::nearbyint(x), -127.0f, 127.0f)); }
float int8_value(int8_t q) { return float(q); }
}  // namespace

Int8Blocks int8_encode_blocks(const float* w, int64_t rows, int64_t cols, int64_t block) {
  Int8Blocks q;
  encode_blocks(w, rows, cols, block, 127.0f, int8_code, q.codes, q.scale_inv);
  return q;
}

void int8_decode_blocks(const Int8Blocks& q, int64_t rows, int64_t cols, int64_t block, float* w) {
  decode_blocks(q.codes, q.scale_inv, rows, cols, block, int8_value, w);
}

int GptqView::q(int64_t i, int64_t o) const {
  const int per = 32 / bits;
  const uint32_t word = uint32_t(qweight[(i / per) * out + o]);
  return int((word >> ((i % per) * bits)) & ((1u << bits) - 1));
}

int GptqView::zero(int64_t g, int64_t o) const {
  const int per = 32 / bits;
  const uint32_t word = uint32_t(qzeros[g * ((out + per - 1) / per) + o / per]);
  const int z = int((word >> ((o % per) * bits)) & ((1u << bits) - 1));
  return zeros_minus_one ? z + 1 : z;
}

float GptqView::scale(int64_t g, int64_t o) const { return f16_to_f32(scales[g * out + o]); }
float AwqView::scale(int64_t g, int64_t o) const { return f16_to_f32(scales[g * out + o]); }

GptqView GptqTensors::view(int64_t out, int64_t in, int bits, int64_t group_size) const {
  GptqView v;
  v.qweight = qweight.data();
  v.qzeros = qzeros.data();
  v.scales = scales.data();
  v.g_idx = g_idx.empty() ? nullptr : g_idx.data();
  v.out = out;
  v.in = in;
  v.bits = bits;
  v.group_size = group_size;
  return v;
}

namespace {

struct GroupScale {
  float d;   // the F16 scale, as stored
  int zero;  // the zero point: value = d · (code − zero)
};

int gptq_code(float v, GroupScale s, int qmax) {
  return int(std::clamp(std::nearbyint(v / s.d) + float(s.zero), 0.0f, float(qmax)));
}

// The scale and zero of one group of n values with the least squared error among five candidates,
// each scale rounded to F16 before its codes are chosen:
// - symmetric: zero 2^(bits-1), scale max|v| / (2^(bits-1) − 1 + k/4), k = 0..4;
// - asymmetric: the group's range [min, max] (holding 0) shrunk by 5k% and spread over the codes
//   0..2^bits − 1, the zero rounded into 1..2^bits − 1 (the "gptq" checkpoint format stores
//   zero − 1 in `bits` bits, so a zero of 0 cannot be written).
// An all-zero group (or one too small for an F16 scale) gets scale 1 and the middle zero: codes
// that decode to 0.
GroupScale best_group_scale(const float* v, int64_t n, int bits, bool sym) {
  const int qmax = (1 << bits) - 1, mid = 1 << (bits - 1);
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < n; ++i) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
  GroupScale best{1.0f, mid};
  float best_err = INFINITY;
  for (int k = 0; k <= 4; ++k) {
    GroupScale c{0.0f, mid};
    if (sym) {
      c.d = f16_to_f32(f32_to_f16(std::max(-lo, hi) / (float(mid - 1) + 0.25f * float(k))));
    } else {
      const float shrink = 1.0f - 0.05f * float(k);
      c.d = f16_to_f32(f32_to_f16((hi - lo) * shrink / float(qmax)));
      if (c.d > 0.0f) c.zero = std::clamp(int(std::nearbyint(-lo * shrink / c.d)), 1, qmax);
    }
    if (!(c.d > 0.0f)) continue;
    float err = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float e = v[i] - c.d * float(gptq_code(v[i], c, qmax) - c.zero);
      err += e * e;
    }
    if (err < best_err) best_err = err, best = c;
  }
  return best;
}

}  // namespace

GptqTensors gptq_encode(const float* w, int64_t out, int64_t in, int bits, int64_t group_size, bool sym) {
  const int per = 32 / bits, qmax = (1 << bits) - 1;
  const int64_t G = block_count(in, group_size), outw = block_count(out, per);
  GptqTensors t;
  t.qweight.assign(size_t(block_count(in, per) * out), 0);
  t.qzeros.assign(size_t(G * outw), 0);
  t.scales.resize(size_t(G * out));
  t.g_idx.resize(size_t(in));
  for (int64_t i = 0; i < in; ++i) t.g_idx[size_t(i)] = int32_t(i / group_size);
  std::vector<int> zeros(size_t(G * out));  // packed after the parallel loop: outputs share qzeros words
#pragma omp parallel for schedule(static) if (out * in > (1 << 16))
  for (int64_t o = 0; o < out; ++o) {
    const float* row = w + o * in;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t i0 = g * group_size, i1 = std::min(in, i0 + group_size);
      const GroupScale s = best_group_scale(row + i0, i1 - i0, bits, sym);
      t.scales[size_t(g * out + o)] = f32_to_f16(s.d);
      zeros[size_t(g * out + o)] = s.zero;
      for (int64_t i = i0; i < i1; ++i) {
        const uint32_t q = uint32_t(gptq_code(row[i], s, qmax));
        t.qweight[size_t((i / per) * out + o)] |= int32_t(q << ((i % per) * bits));
      }
    }
  }
  for (int64_t g = 0; g < G; ++g)  // the "gptq" format stores zero - 1
    for (int64_t o = 0; o < out; ++o)
      t.qzeros[size_t(g * outw + o / per)] |= int32_t(uint32_t(zeros[size_t(g * out + o)] - 1) << ((o % per) * bits));
  return t;
}

void gptq_decode(const GptqView& v, float* w) {
  for (int64_t o = 0; o < v.out; ++o)
    for (int64_t i = 0; i < v.in; ++i) w[o * v.in + i] = v.value(o, i);
}

}  // namespace dsv3
