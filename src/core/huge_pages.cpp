#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cstring>

#include "core/proc_fields.h"

namespace dsv3 {

namespace {

size_t round_up(size_t n) { return (n + kHugePageBytes - 1) & ~(kHugePageBytes - 1); }

}  // namespace

// mmap gives 4 KB alignment only: map one huge page more, then unmap the unaligned head and
// the tail, so the kept range starts and ends on 2 MB boundaries (huge_free unmaps exactly it).
void* huge_alloc(size_t bytes) {
  const size_t len = round_up(bytes);
  void* p = ::mmap(nullptr, len + kHugePageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (start + kHugePageBytes - 1) & ~uintptr_t(kHugePageBytes - 1);
  if (aligned > start) ::munmap(p, aligned - start);
  const size_t tail = start + len + kHugePageBytes - (aligned + len);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + len), tail);
  ::madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);  // advice: no error if THP is off
  return reinterpret_cast<void*>(aligned);
}

void huge_free(void* p, size_t bytes) {
  if (p) ::munmap(p, round_up(bytes));
}

int64_t anon_huge_page_bytes() { return proc_kb_field_bytes("/proc/self/smaps_rollup", "AnonHugePages:"); }

}  // namespace dsv3
