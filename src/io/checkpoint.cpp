#include "io/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "io/json_file.h"

namespace fs = std::filesystem;

namespace dsv3 {

namespace {

// weight_map of the index file: tensor name -> shard file name.
std::map<std::string, std::string> read_weight_map(const std::string& path) {
  const json idx = read_json_file(path);
  if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
    fail(path, ": no \"weight_map\" object");
  std::map<std::string, std::string> map;
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    if (!it->is_string()) fail(path, ": weight_map entry '", it.key(), "' is not a file name");
    const std::string shard = it->get<std::string>();
    if (shard.find('/') != std::string::npos || shard == "..")
      fail(path, ": weight_map entry '", it.key(), "' names a file outside the folder: ", shard);
    map[it.key()] = shard;
  }
  return map;
}

}  // namespace

Checkpoint::Checkpoint(const std::string& dir) : dir_(dir) {
  if (!fs::is_directory(dir)) fail(dir, ": not a directory");
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  if (fs::exists(index)) {
    const auto weight_map = read_weight_map(index.string());
    std::set<std::string> shards;
    for (const auto& [name, shard] : weight_map) shards.insert(shard);
    for (const auto& shard : shards) {
      const fs::path p = fs::path(dir) / shard;
      if (!fs::exists(p)) fail(index.string(), ": shard ", shard, " is listed but missing");
      add_file(p.string());
    }
    for (const auto& [name, shard] : weight_map) {
      const TensorInfo* t = find(name);
      if (!t || fs::path(t->file).filename() != shard)
        fail((fs::path(dir) / shard).string(), ": tensor '", name,
             "' is listed in the index for this shard but not stored in it");
    }
  } else if (fs::exists(single)) {
    add_file(single.string());
  } else {
    // No index: the shards are the model*.safetensors files (other safetensors files, such as
    // saved activations, may sit beside them); failing that, every *.safetensors file.
    std::vector<fs::path> found, model_files;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() != ".safetensors") continue;
      found.push_back(e.path());
      if (e.path().filename().string().rfind("model", 0) == 0) model_files.push_back(e.path());
    }
    if (!model_files.empty()) found = model_files;
    if (found.empty()) fail(dir, ": no model.safetensors, index or *.safetensors file");
    std::sort(found.begin(), found.end());
    for (const auto& p : found) add_file(p.string());
  }
}

Checkpoint::Checkpoint(std::string source, std::vector<TensorInfo> tensors, std::shared_ptr<const void> owner)
    : dir_(std::move(source)), held_(std::move(tensors)), owner_(std::move(owner)) {
  for (const auto& t : held_)
    if (!tensors_.emplace(t.name, &t).second) fail(dir_, ": tensor '", t.name, "' is stored twice");
}

void Checkpoint::add_file(const std::string& path) {
  files_.push_back(std::make_unique<SafetensorsFile>(path));
  for (const auto& t : files_.back()->tensors()) {
    auto [it, fresh] = tensors_.emplace(t.name, &t);
    if (!fresh) fail(path, ": tensor '", t.name, "' is also stored in ", it->second->file);
  }
}

const TensorInfo* Checkpoint::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> v;
  v.reserve(tensors_.size());
  for (const auto& [n, t] : tensors_) v.push_back(n);
  std::sort(v.begin(), v.end());
  return v;
}

size_t Checkpoint::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, t] : tensors_) n += t->nbytes;
  return n;
}

}  // namespace dsv3
