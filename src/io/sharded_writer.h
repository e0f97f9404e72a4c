// Writes a checkpoint's tensors the way Hugging Face folders hold them: shards of at most
// shard_bytes (plus one tensor) named model-0000i-of-0000n.safetensors with
// model.safetensors.index.json, or a single model.safetensors when everything fits in one.
// Shards are written as they fill, so memory holds at most one. Used by dsv3 quantize and by
// every model export (dsv3 init, the trainer).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/safetensors_writer.h"

namespace dsv3 {

class ShardedWriter {
 public:
  static constexpr size_t kDefaultShardBytes = size_t(4096) << 20;

  ShardedWriter(std::filesystem::path dir, size_t shard_bytes = kDefaultShardBytes);

  void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data, size_t n);
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data);
  void add_bf16(const std::string& name, const std::vector<int64_t>& shape, const float* data);  // rounds
  void set_metadata(const std::string& key, const std::string& value);  // in every shard's header

  // Names the shards and writes the index (one shard: model.safetensors, no index), removing
  // the other layout's files left by an earlier write to the same folder.
  void finish();

  size_t total_bytes() const { return total_bytes_; }

 private:
  std::filesystem::path temp_name(size_t i) const;
  void flush();

  std::filesystem::path dir_;
  size_t shard_bytes_, pending_bytes_ = 0, total_bytes_ = 0;
  SafetensorsWriter writer_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::vector<std::string>> names_{1};  // tensor names per shard; the last is open
};

}  // namespace dsv3
