// The safetensors format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the raw little-endian data. Tensors point straight into the memory map.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "io/mapped_file.h"

namespace dsv3 {

struct TensorInfo {
  std::string name;
  std::string file;  // which file holds it, for error messages
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const;
  std::string shape_str() const;  // "[128, 64]"
};

class SafetensorsFile {
 public:
  // Parses and validates the header; throws Error naming the file and the tensor at fault.
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return map_.path(); }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  MappedFile map_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Parses and validates a whole safetensors image in memory (what SafetensorsFile does on the
// map); `path` names it in errors. Tensors point into `data`.
std::vector<TensorInfo> parse_safetensors(const uint8_t* data, size_t size, const std::string& path,
                                          std::map<std::string, std::string>* metadata);

// Reads a tensor of any float dtype (or I64/I32 for token ids) widened to float32 / int64.
std::vector<float> tensor_to_f32(const TensorInfo& t);
std::vector<int64_t> tensor_to_i64(const TensorInfo& t);

}  // namespace dsv3
