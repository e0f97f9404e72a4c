// A read-only memory map of a whole file. Checkpoint weights are used in place from the map,
// so a 690 GB FP8 checkpoint needs no copy in RAM: the page cache holds what is touched.
// Read mode instead copies the file into 2 MB-page memory (core/huge_pages.h; measured 1.23x BF16
// decode on the v3-bench model, docs/benchmarks.md) and drops the file's page-cache copy, at the
// cost of holding the whole file in RAM: generate, chat, serve and bench read files that fit
// (LoadMode::ReadIfFits), the other commands map. DSV3_MMAP=0 forces reading, DSV3_MMAP=1 the map.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace dsv3 {

enum class LoadMode { Map, ReadIfFits };
// The process-wide mode new MappedFiles use (the CLI sets it per command); Map until set.
void set_default_load_mode(LoadMode m);

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error naming the file
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool in_memory() const { return base_ != nullptr; }  // read into 2 MB-page memory, not mapped

 private:
  void read_whole(int fd);

  std::string path_;
  void* base_ = nullptr;  // read mode: the huge-page memory holding the file (huge_alloc)
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace dsv3
