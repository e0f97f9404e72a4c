#include "model/quant_bind.h"

#include <cstring>
#include <vector>

#include "core/error.h"

namespace dsv3 {

namespace {

void expect(const TensorInfo& t, DType dtype, const std::vector<int64_t>& shape) {
  if (t.dtype != dtype) fail(t.file, ": tensor '", t.name, "' has dtype ", dtype_name(t.dtype), "; expected ", dtype_name(dtype));
  if (t.shape != shape) {
    TensorInfo want;
    want.shape = shape;
    fail(t.file, ": tensor '", t.name, "' has shape ", t.shape_str(), ", expected ", want.shape_str());
  }
}

// Safetensors data need not be 4-byte aligned: copied (load time only).
template <typename T>
std::vector<T> copy_of(const TensorInfo& t) {
  std::vector<T> v(t.nbytes / sizeof(T));
  std::memcpy(v.data(), t.data, v.size() * sizeof(T));
  return v;
}

// Integer tensor values of any width (zero points are I8 or I32 depending on the writer).
std::vector<int64_t> tensor_to_i64_any(const TensorInfo& t) {
  if (t.dtype != DType::I8) return tensor_to_i64(t);
  std::vector<int64_t> v(t.nbytes);
  for (size_t i = 0; i < t.nbytes; ++i) v[i] = int8_t(t.data[i]);
  return v;
}

constexpr int64_t kQ8_0BlockBytes = 34;  // llama.cpp's Q8_0 block: F16 d, then 32 int8 codes

// A GPTQ matrix's tensors at `bits` (4 or 8) checked against W [rows, cols] in groups of `group`
// columns and copied out of the checkpoint.
GptqTensors gptq_tensors(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales,
                         const TensorInfo* g_idx, int64_t rows, int64_t cols, int bits, int64_t group) {
  const int64_t per = 32 / bits, G = (cols + group - 1) / group;
  expect(qweight, DType::I32, {cols / per, rows});
  expect(qzeros, DType::I32, {G, (rows + per - 1) / per});
  expect(scales, DType::F16, {G, rows});
  if (g_idx) expect(*g_idx, DType::I32, {cols});
  GptqTensors t;
  t.qweight = copy_of<int32_t>(qweight);
  t.qzeros = copy_of<int32_t>(qzeros);
  t.scales = copy_of<uint16_t>(scales);
  if (g_idx) t.g_idx = copy_of<int32_t>(*g_idx);
  return t;
}

}  // namespace

Int4Matrix bind_gptq(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales,
                     const TensorInfo* g_idx, int64_t rows, int64_t cols, const QuantConfig& q) {
  const int per = 32 / q.bits;
  if (cols % per != 0) fail(qweight.file, ": tensor '", qweight.name, "': ", cols, " input columns do not fill whole int32 words");
  // group_size -1 (one group per row) becomes whole 64-column chunks covering the row.
  const int64_t group = q.group_size > 0 ? q.group_size : (cols + 63) / 64 * 64;
  const GptqTensors t = gptq_tensors(qweight, qzeros, scales, g_idx, rows, cols, q.bits, group);
  GptqView v = t.view(rows, cols, q.bits, group);
  v.zeros_minus_one = q.zeros_minus_one;
  Int4Matrix m = int4_from_gptq(v, (qweight.file + ": tensor '" + qweight.name + "'").c_str());
  int4_choose_layout(m, qweight.name);
  return m;
}

Gptq8 bind_gptq8(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales, const TensorInfo* g_idx,
                 int64_t rows, int64_t cols, const QuantConfig& q) {
  if (cols % 4 != 0) fail(qweight.file, ": tensor '", qweight.name, "': ", cols, " input columns do not fill whole int32 words");
  const int64_t group = q.group_size > 0 ? q.group_size : cols, G = (cols + group - 1) / group;
  const GptqTensors t = gptq_tensors(qweight, qzeros, scales, g_idx, rows, cols, 8, group);
  GptqView v = t.view(rows, cols, 8, group);
  v.zeros_minus_one = q.zeros_minus_one;
  const std::string what = qweight.file + ": tensor '" + qweight.name + "'";
  bool natural = cols % 32 == 0 && (group % 32 == 0 || G == 1);
  for (int64_t i = 0; i < cols && natural; ++i) natural = v.group_of(i) == i / group;
  for (int64_t i = 0; i < cols; ++i)
    if (v.group_of(i) < 0 || v.group_of(i) >= G) fail(what, ": g_idx[", i, "] = ", v.group_of(i), " is not a group of ", G);
  bool sym = true;
  for (int64_t g = 0; g < G && sym; ++g)
    for (int64_t o = 0; o < rows && sym; ++o) sym = v.zero(g, o) == 128;
  Gptq8 out;
  if (!natural || !sym) {
    out.f32.resize(size_t(rows * cols));
    gptq_decode(v, out.f32.data());
    return out;
  }
  std::vector<uint8_t> blocks(size_t(rows * cols / 32 * kQ8_0BlockBytes));
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t u = 0; u < cols / 32; ++u) {
      uint8_t* b = blocks.data() + (o * (cols / 32) + u) * kQ8_0BlockBytes;
      const uint16_t d = t.scales[size_t((u * 32 / group) * rows + o)];
      b[0] = uint8_t(d & 0xFF);
      b[1] = uint8_t(d >> 8);
      for (int64_t j = 0; j < 32; ++j) b[2 + j] = uint8_t(int8_t(v.q(u * 32 + j, o) - 128));
    }
  out.rows = int8_from_q8_0(blocks.data(), rows, cols, qweight.name);
  return out;
}

Int4Matrix bind_awq(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales, int64_t rows,
                    int64_t cols, const QuantConfig& q) {
  if (rows % 8 != 0) fail(qweight.file, ": tensor '", qweight.name, "': ", rows, " outputs do not fill whole int32 words");
  const int64_t G = (cols + q.group_size - 1) / q.group_size;
  expect(qweight, DType::I32, {cols, rows / 8});
  expect(qzeros, DType::I32, {G, rows / 8});
  expect(scales, DType::F16, {G, rows});
  const std::vector<int32_t> qw = copy_of<int32_t>(qweight), qz = copy_of<int32_t>(qzeros);
  const std::vector<uint16_t> sc = copy_of<uint16_t>(scales);
  AwqView v;
  v.qweight = qw.data();
  v.qzeros = qz.data();
  v.scales = sc.data();
  v.out = rows;
  v.in = cols;
  v.group_size = q.group_size;
  Int4Matrix m = int4_from_awq(v, (qweight.file + ": tensor '" + qweight.name + "'").c_str());
  int4_choose_layout(m, qweight.name);
  return m;
}

std::vector<float> dequantize_w8a8(const TensorInfo& weight, const TensorInfo& scale, const TensorInfo* zero_point,
                                   int64_t rows, int64_t cols) {
  expect(weight, DType::I8, {rows, cols});
  const int64_t n = scale.numel();
  const bool channel = n == rows && (scale.shape == std::vector<int64_t>{rows, 1} || scale.shape == std::vector<int64_t>{rows});
  if (!channel && n != 1)
    fail(scale.file, ": tensor '", scale.name, "' has shape ", scale.shape_str(), ", expected [", rows, ", 1] or [1]");
  if (scale.dtype != DType::F32 && scale.dtype != DType::BF16 && scale.dtype != DType::F16)
    fail(scale.file, ": tensor '", scale.name, "' has dtype ", dtype_name(scale.dtype), "; expected F32, BF16 or F16");
  const std::vector<float> s = tensor_to_f32(scale);
  if (zero_point) {
    if (zero_point->dtype != DType::I8 && zero_point->dtype != DType::I32 && zero_point->dtype != DType::I64)
      fail(zero_point->file, ": tensor '", zero_point->name, "' has dtype ", dtype_name(zero_point->dtype), "; expected an integer type");
    for (int64_t z : tensor_to_i64_any(*zero_point))
      if (z != 0) fail(zero_point->file, ": tensor '", zero_point->name, "': asymmetric INT8 (a nonzero zero point) is not supported");
  }
  std::vector<float> w(size_t(rows * cols));
  const auto* q = reinterpret_cast<const int8_t*>(weight.data);
  for (int64_t r = 0; r < rows; ++r) {
    const float sr = s[size_t(channel ? r : 0)];
    for (int64_t c = 0; c < cols; ++c) w[size_t(r * cols + c)] = float(q[r * cols + c]) * sr;
  }
  return w;
}

Int4Matrix int4_from_q4_0(const uint8_t* blocks, int64_t rows, int64_t cols, std::string_view name) {
  constexpr int64_t kBlock = 32, kBlockBytes = 18;  // f16 d, 16 bytes of nibbles
  Int4Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = kBlock;
  m.padded_cols = (cols + 63) / 64 * 64;  // padding: code 0, d = m = 0
  m.packed.assign(size_t(rows * m.row_bytes()), 0);
  m.dm.assign(size_t(rows * m.groups() * 2), 0);
  const int64_t nb = cols / kBlock;
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = m.packed.data() + r * m.row_bytes();
    const auto put = [&](int64_t j, uint8_t q) { row[(j / 64) * 32 + j % 32] |= j % 64 < 32 ? q : uint8_t(q << 4); };
    for (int64_t g = 0; g < nb; ++g) {
      const uint8_t* b = blocks + (r * nb + g) * kBlockBytes;
      const uint16_t d = uint16_t(b[0] | (b[1] << 8));
      for (int64_t l = 0; l < 16; ++l) {  // byte l: value l in the low nibble, value l + 16 in the high
        put(g * kBlock + l, b[2 + l] & 0x0F);
        put(g * kBlock + l + 16, b[2 + l] >> 4);
      }
      uint16_t* p = m.dm.data() + 2 * (r * m.groups() + g);
      p[0] = d;
      p[1] = f32_to_f16(-8.0f * f16_to_f32(d));
    }
  }
  int4_choose_layout(m, name);
  return m;
}

Int8Rows int8_from_q8_0(const uint8_t* blocks, int64_t rows, int64_t cols, std::string_view name) {
  constexpr int64_t kBlock = 32, kBlockBytes = kQ8_0BlockBytes;
  Int8Rows m;
  m.rows = rows;
  m.cols = cols;
  m.tiled = int8_tiles_pay(name);
  const int64_t nb = cols / kBlock;
  if (!m.tiled) {
    m.codes.resize(size_t(rows * cols));
    m.scales.resize(size_t(rows * nb));
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
    for (int64_t b = 0; b < rows * nb; ++b) {  // block b of the matrix: row-major, as stored
      const uint8_t* p = blocks + b * kBlockBytes;
      m.scales[size_t(b)] = f16_to_f32(uint16_t(p[0] | (p[1] << 8)));
      std::memcpy(m.codes.data() + b * kBlock, p + 2, kBlock);
    }
    return m;
  }
  m.packed.assign(size_t(m.tiles() * m.tile_bytes()), 128);  // padding rows: w = 0
  m.d.assign(size_t(m.tiles() * m.tile_halves()), 0);
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t tile = 0; tile < m.tiles(); ++tile) {
    uint8_t* bytes = m.packed.data() + tile * m.tile_bytes();
    uint16_t* d = m.d.data() + tile * m.tile_halves();
    for (int64_t i = 0; i < kInt8TileRows && tile * kInt8TileRows + i < rows; ++i)
      for (int64_t u = 0; u < nb; ++u) {
        const uint8_t* p = blocks + ((tile * kInt8TileRows + i) * nb + u) * kBlockBytes;
        d[int8_tile_scale_at(i, u)] = uint16_t(p[0] | (p[1] << 8));
        for (int64_t j = 0; j < kBlock; ++j) {
          const int64_t c = u * kBlock + j;
          bytes[int8_tile_at(i, c)] = uint8_t(p[2 + j] ^ 0x80);  // int8 w -> w + 128
        }
      }
  }
  return m;
}

}  // namespace dsv3
