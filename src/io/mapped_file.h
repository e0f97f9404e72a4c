// A read-only memory map of a whole file. Checkpoint weights are used in place from the map,
// so a 690 GB FP8 checkpoint needs no copy in RAM: the page cache holds what is touched.
// DSV3_MMAP=0 reads the file into 2 MB-page memory instead (measured 1.23x BF16 decode on the
// v3-bench model, docs/benchmarks.md), at the cost of holding the whole file in RAM.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace dsv3 {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error naming the file
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void read_whole(int fd);

  std::string path_;
  void* base_ = nullptr;  // DSV3_MMAP=0: the anonymous mapping holding the file
  size_t map_len_ = 0;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace dsv3
