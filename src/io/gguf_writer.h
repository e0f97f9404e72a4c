// Writes GGUF files (version 3, alignment 32): metadata and tensors in any type gguf_types.h
// knows, given as finished blocks. Used by the tests to make GGUF files of their own, and for
// converting checkpoints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf_types.h"

namespace dsv3 {

class GgufWriter {
 public:
  void add_u16(const std::string& key, uint16_t v);
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  void add_strings(const std::string& key, const std::vector<std::string>& v);
  void add_i32s(const std::string& key, const std::vector<int32_t>& v);
  // ne[0] fastest (a matrix [rows, cols] is {cols, rows}); `bytes` holds the blocks.
  void add_tensor(const std::string& name, GgmlType type, const std::vector<int64_t>& ne, const void* bytes, size_t n);

  size_t tensor_count() const { return tensors_.size(); }
  std::string image() const;                // the whole file
  void write(const std::string& path) const;  // atomically (temp file, rename)

 private:
  std::string kv_;
  uint64_t n_kv_ = 0;
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::string bytes;
  };
  std::vector<Tensor> tensors_;
};

// Row-wise quantizers for the simple formats (round to nearest, as llama.cpp's reference
// quantizers: Q8_0 d = max|x| / 127; Q4_0 d = the signed value of largest magnitude / -8).
std::vector<uint8_t> ggml_quantize_q8_0(const float* x, int64_t n);
std::vector<uint8_t> ggml_quantize_q4_0(const float* x, int64_t n);

}  // namespace dsv3
