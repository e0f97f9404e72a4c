// The GGUF container of llama.cpp (version 2 and 3, little-endian):
//   "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count × (string key, u32 value_type, value)       metadata
//   tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
//   padding to general.alignment (default 32), then the tensor data (offsets from there).
// A string is u64 length + bytes; value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32,
// 7 bool, 8 string, 9 array (u32 element type, u64 count, elements), 10 u64, 11 i64, 12 f64.
// ne[0] is the fastest-varying dimension: a matrix [rows, cols] has ne = {cols, rows}.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf_types.h"
#include "io/mapped_file.h"

namespace dsv3 {

// A metadata value: numbers widened (integers to int64, floats to double), strings, arrays.
struct GgufValue {
  enum Kind { Int, Float, Bool, String, Array } kind = Int;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<GgufValue> items;  // Array
};

struct GgufTensor {
  std::string name;
  uint32_t type = 0;               // ggml_type (gguf_types.h)
  std::vector<int64_t> ne;         // ne[0] fastest
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t numel() const;
};

struct GgufContents {
  uint32_t version = 0;
  std::map<std::string, GgufValue> metadata;
  std::vector<GgufTensor> tensors;
};

// Parses and validates a whole GGUF image (tensor types dsv3 reads, sizes, offsets inside
// `size`); throws Error naming `path` and the key or tensor at fault. Tensors point into `data`.
GgufContents parse_gguf(const uint8_t* data, size_t size, const std::string& path);

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);
  const GgufContents& contents() const { return c_; }
  const GgufTensor* find(const std::string& name) const;
  const GgufValue* meta(const std::string& key) const;
  const std::string& path() const { return map_.path(); }

 private:
  MappedFile map_;
  GgufContents c_;
};

// A tensor widened to float32 (ne[0] fastest); throws Error naming the tensor for types it
// cannot widen.
std::vector<float> gguf_to_f32(const GgufTensor& t);

}  // namespace dsv3
