#include "io/gguf.h"

#include <cstring>

#include "core/error.h"

namespace dsv3 {

namespace {

constexpr uint64_t kMaxCount = uint64_t(1) << 40;  // beyond any real file: a corrupt count

// A bounds-checked little-endian reader over the header.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& path) : p_(data), size_(size), path_(path) {}

  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = get<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }
  uint64_t count(const char* what) {
    const uint64_t n = get<uint64_t>(what);
    if (n > kMaxCount || n > size_) fail(path_, ": ", what, " count ", n, " exceeds the file (truncated or damaged GGUF)");
    return n;
  }
  size_t pos() const { return pos_; }
  const std::string& path() const { return path_; }

 private:
  void need(uint64_t n, const char* what) {
    if (n > size_ - pos_) fail(path_, ": file ends inside ", what, " (truncated GGUF?)");
  }
  const uint8_t* p_;
  size_t size_, pos_ = 0;
  const std::string& path_;
};

GgufValue read_value(Reader& r, uint32_t type, const std::string& key, int depth) {
  GgufValue v;
  const char* what = "a metadata value";
  switch (type) {
    case 0: v.i = r.get<uint8_t>(what); break;
    case 1: v.i = r.get<int8_t>(what); break;
    case 2: v.i = r.get<uint16_t>(what); break;
    case 3: v.i = r.get<int16_t>(what); break;
    case 4: v.i = r.get<uint32_t>(what); break;
    case 5: v.i = r.get<int32_t>(what); break;
    case 10: v.i = int64_t(r.get<uint64_t>(what)); break;
    case 11: v.i = r.get<int64_t>(what); break;
    case 6: v.kind = GgufValue::Float, v.f = r.get<float>(what); break;
    case 12: v.kind = GgufValue::Float, v.f = r.get<double>(what); break;
    case 7: v.kind = GgufValue::Bool, v.i = r.get<uint8_t>(what) != 0; break;
    case 8: v.kind = GgufValue::String, v.s = r.str(what); break;
    case 9: {
      if (depth > 0) fail(r.path(), ": metadata '", key, "': nested arrays are not supported");
      v.kind = GgufValue::Array;
      const uint32_t et = r.get<uint32_t>(what);
      const uint64_t n = r.count("array");
      v.items.reserve(size_t(n));
      for (uint64_t k = 0; k < n; ++k) v.items.push_back(read_value(r, et, key, depth + 1));
      break;
    }
    default: fail(r.path(), ": metadata '", key, "' has unknown value type ", type);
  }
  return v;
}

}  // namespace

int64_t GgufTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

GgufContents parse_gguf(const uint8_t* data, size_t size, const std::string& path) {
  Reader r(data, size, path);
  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) fail(path, ": not a GGUF file (no GGUF magic)");
  r.get<uint32_t>("the magic");
  GgufContents c;
  c.version = r.get<uint32_t>("the version");
  if (c.version != 2 && c.version != 3) fail(path, ": GGUF version ", c.version, " is not supported (2 or 3)");
  const uint64_t n_tensors = r.count("tensor"), n_kv = r.count("metadata");
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = r.str("a metadata key");
    const uint32_t type = r.get<uint32_t>("a metadata type");
    c.metadata[key] = read_value(r, type, key, 0);
  }
  uint64_t alignment = 32;
  if (auto it = c.metadata.find("general.alignment"); it != c.metadata.end()) {
    alignment = uint64_t(it->second.i);
    if (it->second.kind != GgufValue::Int || alignment == 0 || (alignment & (alignment - 1)) != 0)
      fail(path, ": general.alignment must be a power of two");
  }
  std::vector<uint64_t> offsets;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensor t;
    t.name = r.str("a tensor name");
    const uint32_t dims = r.get<uint32_t>("a tensor's dimension count");
    if (dims == 0 || dims > 4) fail(path, ": tensor '", t.name, "' has ", dims, " dimensions (1 to 4 allowed)");
    for (uint32_t d = 0; d < dims; ++d) {
      const uint64_t n = r.get<uint64_t>("a tensor's shape");
      if (n == 0 || n > kMaxCount) fail(path, ": tensor '", t.name, "' has dimension ", n);
      t.ne.push_back(int64_t(n));
    }
    t.type = r.get<uint32_t>("a tensor's type");
    offsets.push_back(r.get<uint64_t>("a tensor's offset"));
    c.tensors.push_back(std::move(t));
  }
  const uint64_t base = (r.pos() + alignment - 1) / alignment * alignment;
  for (size_t k = 0; k < c.tensors.size(); ++k) {
    GgufTensor& t = c.tensors[k];
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    if (!info) fail(path, ": tensor '", t.name, "' has ggml type ", ggml_type_name(t.type), ", which dsv3 does not read");
    int64_t n = 1;
    for (int64_t d : t.ne) {
      if (n > int64_t(kMaxCount) / d) fail(path, ": tensor '", t.name, "' is impossibly large");
      n *= d;
    }
    if (t.ne[0] % info->block != 0)
      fail(path, ": tensor '", t.name, "': row of ", t.ne[0], " values is not whole ", info->name, " blocks of ", info->block);
    t.nbytes = size_t(n / info->block) * info->block_bytes;
    if (offsets[k] % alignment != 0) fail(path, ": tensor '", t.name, "' data offset is not aligned");
    if (base > size || offsets[k] > size - base || t.nbytes > size - base - offsets[k])
      fail(path, ": tensor '", t.name, "' (", info->name, ") data ends beyond the file (truncated GGUF?)");
    t.data = data + base + offsets[k];
  }
  return c;
}

GgufFile::GgufFile(const std::string& path) : map_(path), c_(parse_gguf(map_.data(), map_.size(), path)) {}

const GgufTensor* GgufFile::find(const std::string& name) const {
  for (const GgufTensor& t : c_.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const GgufValue* GgufFile::meta(const std::string& key) const {
  const auto it = c_.metadata.find(key);
  return it == c_.metadata.end() ? nullptr : &it->second;
}

std::vector<float> gguf_to_f32(const GgufTensor& t) {
  std::vector<float> out(size_t(t.numel()));
  ggml_dequantize(GgmlType(t.type), t.data, out.data(), t.numel());
  return out;
}

}  // namespace dsv3
