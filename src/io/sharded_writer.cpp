#include "io/sharded_writer.h"

#include <cstdio>

#include "io/json_file.h"

namespace fs = std::filesystem;

namespace dsv3 {

ShardedWriter::ShardedWriter(fs::path dir, size_t shard_bytes) : dir_(std::move(dir)), shard_bytes_(shard_bytes) {
  fs::create_directories(dir_);
}

void ShardedWriter::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data,
                        size_t n) {
  if (pending_bytes_ > 0 && pending_bytes_ + n > shard_bytes_) flush();
  writer_.add(name, dtype, shape, data, n);
  names_.back().push_back(name);
  pending_bytes_ += n;
  total_bytes_ += n;
}

void ShardedWriter::add_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  add(name, DType::F32, shape, data, size_t(n) * 4);
}

void ShardedWriter::add_bf16(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<uint16_t> h(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) h[size_t(i)] = f32_to_bf16(data[i]);
  add(name, DType::BF16, shape, h.data(), h.size() * 2);
}

void ShardedWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
  writer_.set_metadata(key, value);
}

fs::path ShardedWriter::temp_name(size_t i) const { return dir_ / ("shard-" + std::to_string(i) + ".tmp"); }

void ShardedWriter::flush() {
  if (names_.back().empty()) return;
  writer_.write(temp_name(names_.size() - 1).string());
  writer_ = SafetensorsWriter();
  for (const auto& [k, v] : metadata_) writer_.set_metadata(k, v);
  names_.emplace_back();
  pending_bytes_ = 0;
}

void ShardedWriter::finish() {
  flush();
  const size_t n = names_.size() - 1;  // the last list is always empty
  const fs::path index = dir_ / "model.safetensors.index.json", single = dir_ / "model.safetensors";
  if (n == 1) {
    fs::rename(temp_name(0), single);
    fs::remove(index);
    return;
  }
  json map = json::object();
  for (size_t i = 0; i < n; ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, n);
    fs::rename(temp_name(i), dir_ / name);
    for (const auto& t : names_[i]) map[t] = name;
  }
  const json idx = {{"metadata", {{"total_size", total_bytes_}}}, {"weight_map", map}};
  write_file_atomic(index.string(), idx.dump(2) + "\n");
  fs::remove(single);
}

}  // namespace dsv3
