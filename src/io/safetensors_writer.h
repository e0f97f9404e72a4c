// Writes safetensors files. The file appears atomically (temp file, fsync, rename), so a
// kill in the middle of a checkpoint save never leaves a half-written file under the real name.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dsv3 {

class SafetensorsWriter {
 public:
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
           size_t nbytes);
  void add_f32(const std::string& name, std::vector<int64_t> shape, const float* data);
  void add_bf16(const std::string& name, std::vector<int64_t> shape, const float* data);  // rounds
  void add_i64(const std::string& name, std::vector<int64_t> shape, const int64_t* data);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void write(const std::string& path) const;  // throws Error on I/O failure

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes bytes to path via a temp file + fsync + rename.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace dsv3
