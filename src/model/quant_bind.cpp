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

}  // namespace

Int4Matrix bind_gptq(const TensorInfo& qweight, const TensorInfo& qzeros, const TensorInfo& scales,
                     const TensorInfo* g_idx, int64_t rows, int64_t cols, const QuantConfig& q) {
  const int per = 32 / q.bits;
  if (cols % per != 0) fail(qweight.file, ": tensor '", qweight.name, "': ", cols, " input columns do not fill whole int32 words");
  // group_size -1 (one group per row) becomes whole 64-column chunks covering the row.
  const int64_t group = q.group_size > 0 ? q.group_size : (cols + 63) / 64 * 64;
  const int64_t G = (cols + group - 1) / group;
  expect(qweight, DType::I32, {cols / per, rows});
  expect(qzeros, DType::I32, {G, (rows + per - 1) / per});
  expect(scales, DType::F16, {G, rows});
  if (g_idx) expect(*g_idx, DType::I32, {cols});
  GptqTensors t;
  t.qweight = copy_of<int32_t>(qweight);
  t.qzeros = copy_of<int32_t>(qzeros);
  t.scales = copy_of<uint16_t>(scales);
  if (g_idx) t.g_idx = copy_of<int32_t>(*g_idx);
  GptqView v = t.view(rows, cols, q.bits, group);
  v.zeros_minus_one = q.zeros_minus_one;
  return int4_from_gptq(v, (qweight.file + ": tensor '" + qweight.name + "'").c_str());
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
  return int4_from_awq(v, (qweight.file + ": tensor '" + qweight.name + "'").c_str());
}

}  // namespace dsv3
