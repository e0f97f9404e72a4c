// Memory for the bytes decode streams every token (weights), on 2 MB pages where the kernel
// gives them. Decode reads every weight once per token: on 4 KB pages that is one TLB miss per
// 4 KB (118 K per token for a 484 MB BF16 model) and the L2 prefetcher restarts at every page
// boundary. Transparent huge pages are "madvise" on most distributions, so memory has to ask:
// anonymous mmap, aligned to 2 MB, madvise(MADV_HUGEPAGE). Small requests (< 1 MB) go to
// operator new: a 2 MB mapping each would waste memory and gain nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace dsv3 {

constexpr size_t kHugePageBytes = size_t(2) << 20;

// At least `bytes` (> 0) bytes aligned to 2 MB, advised for huge pages, zero-filled; throws
// std::bad_alloc when the kernel refuses. Freed by huge_free with the same byte count.
void* huge_alloc(size_t bytes);
void huge_free(void* p, size_t bytes);

// Bytes of this process's anonymous memory on 2 MB pages (AnonHugePages of /proc/self/smaps_rollup);
// -1 where the kernel does not report it.
int64_t anon_huge_page_bytes();

// A std::vector allocator: buffers of 1 MB or more on huge pages (huge_alloc), smaller ones on
// the heap. A drop-in for weight storage: std::vector<T, HugePageAllocator<T>> (HugeVector<T>).
template <class T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kMinHugeBytes = size_t(1) << 20;
  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) {}
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kMinHugeBytes) return static_cast<T*>(huge_alloc(bytes));
    return static_cast<T*>(::operator new(bytes, std::align_val_t(alignof(T) > 64 ? alignof(T) : 64)));
  }
  void deallocate(T* p, size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kMinHugeBytes) huge_free(p, bytes);
    else ::operator delete(p, std::align_val_t(alignof(T) > 64 ? alignof(T) : 64));
  }
  template <class U>
  bool operator==(const HugePageAllocator<U>&) const { return true; }
};

template <class T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace dsv3
