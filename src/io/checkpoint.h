// A Hugging Face checkpoint folder: model.safetensors.index.json + shards, or one
// model.safetensors. All shards are memory-mapped; tensors are found by their HF name.
#pragma once
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/safetensors.h"

namespace dsv3 {

class Checkpoint {
 public:
  explicit Checkpoint(const std::string& dir);  // throws Error naming the file at fault
  // Tensors converted from another container (a GGUF file set, model/gguf_bind.h) whose data
  // `owner` keeps alive; `source` names it in errors.
  Checkpoint(std::string source, std::vector<TensorInfo> tensors, std::shared_ptr<const void> owner);

  const std::string& dir() const { return dir_; }
  const TensorInfo* find(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  size_t total_bytes() const;

 private:
  void add_file(const std::string& path);
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<TensorInfo> held_;
  std::shared_ptr<const void> owner_;
  std::unordered_map<std::string, const TensorInfo*> tensors_;
};

}  // namespace dsv3
