#include "damage.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>

#include "io/json_file.h"

namespace dsv3::test {

void rewrite_shard(const std::string& shard_path,
                   const std::function<bool(const TensorInfo&, SafetensorsWriter&)>& edit) {
  SafetensorsWriter w;
  {
    SafetensorsFile f(shard_path);
    for (const auto& t : f.tensors())
      if (edit(t, w)) w.add(t.name, t.dtype, t.shape, t.data, t.nbytes);
  }
  w.write(shard_path);
}

std::string shard_of(const std::string& dir, const std::string& tensor) {
  const json idx = read_json_file(dir + "/model.safetensors.index.json");
  return dir + "/" + idx["weight_map"][tensor].get<std::string>();
}

void truncate_file(const std::string& path, size_t new_size) {
  if (::truncate(path.c_str(), off_t(new_size)) != 0) std::abort();
}

void overwrite_header_length(const std::string& path, uint64_t len) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.write(reinterpret_cast<const char*>(&len), 8);
}

}  // namespace dsv3::test
