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
// Q6_K (n a multiple of 256), round to nearest at both levels: each 16 values' scale
// s = (signed value of largest magnitude) / -32, d = max|s| / 127 (F16), sc = round(s / d)
// (int8), q = clamp(round(x / (d · sc)) + 32, 0, 63). Simpler than llama.cpp's searched scales,
// but the same block layout (core/kquant_blocks.h).
std::vector<uint8_t> ggml_quantize_q6_k(const float* x, int64_t n);
// Q4_K (n a multiple of 256), round to nearest: each 32 values' step s = (max - min) / 15 and
// minimum m = max(0, -min); d = max s / 63 and dmin = max m / 63 (F16); 6-bit sc = round(s / d),
// mn = round(m / dmin); q = clamp(round((x + dmin · mn) / (d · sc)), 0, 15).
std::vector<uint8_t> ggml_quantize_q4_k(const float* x, int64_t n);

}  // namespace dsv3
