// FNV-1a, 64-bit: fingerprints of configs, checkpoints and data files (not for security).
#pragma once
#include <cstddef>
#include <cstdint>

namespace dsv3 {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;  // FNV-1a's 64-bit offset basis
// The basis as dsv3 had it until 2026-11-30, a digit short: token shards of version 1 carry
// checksums made with it, and stay readable.
constexpr uint64_t kFnvOffsetShardsV1 = 1469598103934665603ull;

inline uint64_t fnv1a(const void* data, size_t n, uint64_t h = kFnvOffset) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace dsv3
