#include "io/safetensors.h"

#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/json_file.h"

namespace dsv3 {

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

constexpr uint64_t kMaxHeader = 256ull << 20;  // far above any real header; guards absurd lengths

TensorInfo parse_entry(const std::string& path, const std::string& name, const json& e,
                       const uint8_t* data_start, uint64_t data_size) {
  auto bad = [&](const auto&... why) { fail(path, ": tensor '", name, "': ", why...); };
  if (!e.is_object()) bad("header entry is not an object");
  TensorInfo t;
  t.name = name;
  t.file = path;
  if (!e.contains("dtype") || !e["dtype"].is_string()) bad("missing dtype");
  const std::string dt = e["dtype"].get<std::string>();
  if (!dtype_from_name(dt, &t.dtype)) bad("unsupported dtype ", dt);
  if (!e.contains("shape") || !e["shape"].is_array()) bad("missing shape");
  uint64_t numel = 1;
  for (const auto& d : e["shape"]) {
    if (!d.is_number_unsigned()) bad("shape entries must be non-negative integers");
    const uint64_t v = d.get<uint64_t>();
    if (v != 0 && numel > std::numeric_limits<uint32_t>::max() * 64ull / v) bad("shape too large");
    numel *= v;
    t.shape.push_back(int64_t(v));
  }
  const auto& off = e.contains("data_offsets") ? e["data_offsets"] : json();
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned())
    bad("data_offsets must be [begin, end]");
  const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
  if (b > en) bad("data_offsets begin ", b, " > end ", en);
  if (en > data_size)
    bad("data ends at byte ", en, " but the file holds only ", data_size,
        " bytes of data (truncated file?)");
  const uint64_t want = numel * dtype_size(t.dtype);
  if (en - b != want) bad("holds ", en - b, " bytes but ", dt, " ", t.shape_str(), " needs ", want);
  t.data = data_start + b;
  t.nbytes = size_t(en - b);
  return t;
}

}  // namespace

std::vector<TensorInfo> parse_safetensors(const uint8_t* data, size_t size, const std::string& path,
                                          std::map<std::string, std::string>* metadata) {
  if (size < 8) fail(path, ": too short for a safetensors file (", size, " bytes)");
  uint64_t hlen;
  std::memcpy(&hlen, data, 8);
  if (hlen > size - 8)
    fail(path, ": header claims ", hlen, " bytes but the file has only ", size - 8,
         " after the length (truncated or not safetensors)");
  if (hlen > kMaxHeader) fail(path, ": header length ", hlen, " is implausible");
  const std::string text(reinterpret_cast<const char*>(data + 8), size_t(hlen));
  const json header = parse_json_text(text, path + " header");
  if (!header.is_object()) fail(path, ": header is not a JSON object");
  const uint8_t* data_start = data + 8 + hlen;
  const uint64_t data_size = size - 8 - hlen;
  std::vector<TensorInfo> tensors;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object() && metadata)
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m->is_string()) (*metadata)[m.key()] = m->get<std::string>();
      continue;
    }
    tensors.push_back(parse_entry(path, it.key(), *it, data_start, data_size));
  }
  return tensors;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : map_(path) {
  tensors_ = parse_safetensors(map_.data(), map_.size(), path, &metadata_);
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::vector<float> tensor_to_f32(const TensorInfo& t) {
  const int64_t n = t.numel();
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* p = t.data;
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::F32: std::memcpy(&out[i], p + 4 * i, 4); break;
      case DType::F64: { double d; std::memcpy(&d, p + 8 * i, 8); out[i] = float(d); break; }
      case DType::BF16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); out[i] = bf16_to_f32(h); break; }
      case DType::F16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); out[i] = f16_to_f32(h); break; }
      case DType::F8_E4M3: out[i] = fp8_e4m3_to_f32(p[i]); break;
      default: fail(t.file, ": tensor '", t.name, "': expected a float dtype, found ", dtype_name(t.dtype));
    }
  }
  return out;
}

std::vector<int64_t> tensor_to_i64(const TensorInfo& t) {
  const int64_t n = t.numel();
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype == DType::I64) std::memcpy(&out[i], t.data + 8 * i, 8);
    else if (t.dtype == DType::I32) { int32_t v; std::memcpy(&v, t.data + 4 * i, 4); out[i] = v; }
    else fail(t.file, ": tensor '", t.name, "': expected I64 or I32, found ", dtype_name(t.dtype));
  }
  return out;
}

}  // namespace dsv3
