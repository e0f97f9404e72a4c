// Damaged copies of a fixture checkpoint, for the bad-input tests.
#pragma once
#include <functional>
#include <string>

#include "io/safetensors.h"
#include "io/safetensors_writer.h"

namespace dsv3::test {

// Rewrites one shard of the checkpoint in `dir`: edit(info, writer) decides what to write for each
// tensor (return false to drop it; or add it changed). Keeps the index consistent for dropped ones
// only if drop_from_index is set.
void rewrite_shard(const std::string& shard_path,
                   const std::function<bool(const TensorInfo&, SafetensorsWriter&)>& edit);

// The shard of a checkpoint folder that holds `tensor` (per the index).
std::string shard_of(const std::string& dir, const std::string& tensor);

void truncate_file(const std::string& path, size_t new_size);
void overwrite_header_length(const std::string& path, uint64_t len);

}  // namespace dsv3::test
