#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace dsv3 {

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

// DSV3_MMAP=0: the whole file read into anonymous memory advised for 2 MB pages instead of
// mapped from the page cache (4 KB pages): decode streams every weight each step, and on a
// virtual machine each 4 KB page's TLB miss is a two-level walk.
bool read_into_memory() {
  const char* e = std::getenv("DSV3_MMAP");
  return e && !std::strcmp(e, "0");
}

}  // namespace

// Anonymous memory aligned to 2 MB, filled from fd; base_/map_len_ keep the mapping to unmap.
void MappedFile::read_whole(int fd) {
  map_len_ = size_ + kHugePage;
  void* p = ::mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail(path_, ": cannot allocate ", size_, " bytes: ", std::strerror(errno));
  base_ = p;
  uint8_t* d = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~(kHugePage - 1));
  ::madvise(d, size_, MADV_HUGEPAGE);
  for (size_t off = 0; off < size_;) {
    const ssize_t got = ::pread(fd, d + off, std::min<size_t>(size_ - off, size_t(1) << 30), off_t(off));
    if (got <= 0) fail(path_, ": read failed at byte ", off, ": ", got < 0 ? std::strerror(errno) : "end of file");
    off += size_t(got);
  }
  data_ = d;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, ": not a regular file");
  }
  size_ = size_t(st.st_size);
  if (size_ > 0 && read_into_memory()) {
    try {
      read_whole(fd);
    } catch (...) {
      if (base_) ::munmap(base_, map_len_);
      ::close(fd);
      throw;
    }
  } else if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail(path, ": mmap failed: ", std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (base_) ::munmap(base_, map_len_);
  else if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace dsv3
