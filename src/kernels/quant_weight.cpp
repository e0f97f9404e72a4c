#include "kernels/quant_weight.h"

#include <algorithm>
#include <numeric>

#include "core/dtype.h"
#include "core/error.h"

namespace dsv3 {

int Int4Matrix::q(int64_t r, int64_t j) const {
  const uint8_t b = packed[size_t(r * row_bytes() + (j / 64) * 32 + j % 32)];
  return j % 64 < 32 ? b & 0x0F : b >> 4;
}

float Int4Matrix::value(int64_t r, int64_t c) const {
  const int64_t j = inv_perm.empty() ? c : inv_perm[size_t(c)];
  const uint16_t* p = dm.data() + 2 * (r * groups() + j / group);
  return int4_dequant(q(r, j), f16_to_f32(p[0]), f16_to_f32(p[1]));
}

namespace {
// Packed column j ↔ input column: sorted by group (stable), checked to give equal groups.
template <typename View>
std::vector<int32_t> act_order(const View& v, const char* what) {
  bool natural = true;
  for (int64_t i = 0; i < v.in; ++i) {
    const int64_t g = v.group_of(i);
    if (g < 0 || g >= v.groups()) fail(what, ": g_idx[", i, "] = ", g, " is outside [0, ", v.groups(), ")");
    natural = natural && g == i / v.group_size;
  }
  if (natural) return {};
  std::vector<int32_t> perm(size_t(v.in));
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return v.group_of(a) < v.group_of(b); });
  for (int64_t j = 0; j < v.in; ++j)
    if (v.group_of(perm[size_t(j)]) != j / v.group_size)
      fail(what, ": act-order g_idx with groups of unequal size is not supported");
  return perm;
}
// Any 4-bit view with q(i, o), zero(g, o), F16 scales [groups, out] and group_of(i).
template <typename View>
Int4Matrix repack(const View& v, const char* what) {
  if (v.group_size % kQuantUnit != 0) fail(what, ": group size ", v.group_size, " is not a multiple of ", kQuantUnit);
  Int4Matrix m;
  m.rows = v.out;
  m.cols = v.in;
  m.group = v.group_size;
  m.padded_cols = (v.in + 63) / 64 * 64;
  m.padded_cols = (m.padded_cols + m.group - 1) / m.group * m.group;  // whole groups
  m.perm = act_order(v, what);
  if (!m.perm.empty()) {
    m.inv_perm.resize(m.perm.size());
    for (size_t j = 0; j < m.perm.size(); ++j) m.inv_perm[size_t(m.perm[j])] = int32_t(j);
  }
  m.packed.assign(size_t(m.rows * m.row_bytes()), 0);
  m.dm.assign(size_t(m.rows * m.groups() * 2), 0);
#pragma omp parallel for schedule(static) if (v.out * v.in > (1 << 16))
  for (int64_t r = 0; r < v.out; ++r) {
    uint8_t* row = m.packed.data() + r * m.row_bytes();
    for (int64_t j = 0; j < v.in; ++j) {
      const int64_t i = m.perm.empty() ? j : m.perm[size_t(j)];
      const uint8_t q = uint8_t(v.q(i, r));
      row[(j / 64) * 32 + j % 32] |= j % 64 < 32 ? q : uint8_t(q << 4);
    }
    for (int64_t g = 0; g < v.groups(); ++g) {
      // Every column of packed group g has GPTQ group g (natural order or checked act-order).
      const float d = v.scale(g, r);
      uint16_t* p = m.dm.data() + 2 * (r * m.groups() + g);
      p[0] = v.scales[g * v.out + r];
      p[1] = f32_to_f16(-float(v.zero(g, r)) * d);
    }
  }
  return m;
}

}  // namespace

Int4Matrix int4_from_gptq(const GptqView& v, const char* what) {
  if (v.bits != 4) fail(what, ": ", v.bits, "-bit GPTQ is not supported (4-bit only)");
  return repack(v, what);
}

Int4Matrix int4_from_awq(const AwqView& v, const char* what) { return repack(v, what); }

}  // namespace dsv3
