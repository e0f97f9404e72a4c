#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/huge_pages.h"
#include "core/proc_fields.h"

namespace dsv3 {

namespace {

LoadMode g_load_mode = LoadMode::Map;

// Below this share of MemAvailable a file is read (ReadIfFits): the rest is left for the
// other files of the checkpoint, the caches and the activations.
constexpr double kReadShareOfAvailable = 0.6;

int64_t mem_available_bytes() { return proc_kb_field_bytes("/proc/meminfo", "MemAvailable:"); }

// DSV3_MMAP=0 always reads, DSV3_MMAP=1 always maps; otherwise the process's mode decides.
bool read_into_memory(size_t size) {
  if (const char* e = std::getenv("DSV3_MMAP")) {
    if (!std::strcmp(e, "0")) return true;
    if (!std::strcmp(e, "1")) return false;
  }
  if (g_load_mode != LoadMode::ReadIfFits) return false;
  const int64_t avail = mem_available_bytes();
  return avail > 0 && double(size) <= kReadShareOfAvailable * double(avail);
}

}  // namespace

void set_default_load_mode(LoadMode m) { g_load_mode = m; }

// The whole file read into 2 MB-page memory: decode streams every weight each step, and on a
// virtual machine each 4 KB page's TLB miss is a two-level walk. The page cache's copy is
// dropped after reading, so the file is not held twice.
void MappedFile::read_whole(int fd) {
  try {
    base_ = huge_alloc(size_);
  } catch (const std::bad_alloc&) {
    fail(path_, ": cannot allocate ", size_, " bytes to read it into memory");
  }
  uint8_t* d = static_cast<uint8_t*>(base_);
  for (size_t off = 0; off < size_;) {
    const ssize_t got = ::pread(fd, d + off, std::min<size_t>(size_ - off, size_t(1) << 30), off_t(off));
    if (got <= 0) fail(path_, ": read failed at byte ", off, ": ", got < 0 ? std::strerror(errno) : "end of file");
    off += size_t(got);
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
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
  if (size_ > 0 && read_into_memory(size_)) {
    try {
      read_whole(fd);
    } catch (...) {
      huge_free(base_, size_);
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
  if (base_) huge_free(base_, size_);
  else if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace dsv3
