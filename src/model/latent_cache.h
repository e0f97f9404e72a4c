// The MLA cache of one sequence. Per layer and position it keeps only what MLA needs to rebuild
// every head's keys and values: the normalized latent c_kv [kv_lora_rank] and the one shared
// rotated key k_pe [qk_rope_head_dim] — 512 + 64 = 576 numbers per token per layer for
// DeepSeek-V3, where standard attention would keep 2 · 128 heads · 128.
//
// The numbers are stored as float32 (exact: what `dsv3 logits` checks against the reference)
// or BF16 (half the memory and half the bytes the attention reads per decoded token; the
// default of generate/chat/serve/bench). Attention reads them in place (kernels/attention.h).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/attention.h"

namespace dsv3 {

enum class CacheType { F32, BF16 };

inline const char* cache_type_name(CacheType t) { return t == CacheType::BF16 ? "bf16" : "f32"; }
inline CacheType parse_cache_type(const std::string& s) {
  if (s == "f32") return CacheType::F32;
  if (s == "bf16") return CacheType::BF16;
  fail("cache type '", s, "': expected f32 or bf16");
}
inline int64_t cache_type_bytes(CacheType t) { return t == CacheType::BF16 ? 2 : 4; }

// What new caches use when not told (a process-wide choice: the CLI sets it per command).
inline CacheType& default_cache_type() {
  static CacheType t = CacheType::F32;
  return t;
}

class SequenceCache {
 public:
  SequenceCache() = default;
  SequenceCache(int64_t n_layers, int64_t kv_dim, int64_t pe_dim, CacheType type = default_cache_type())
      : type_(type), kv_dim_(kv_dim), pe_dim_(pe_dim), kv_(size_t(n_layers)), pe_(size_t(n_layers)) {}

  int64_t length() const { return length_; }
  int64_t n_layers() const { return int64_t(kv_.size()); }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t pe_dim() const { return pe_dim_; }
  CacheType type() const { return type_; }

  // Makes room for positions [0, n); called before a forward writes them.
  void ensure(int64_t n) {
    const size_t b = size_t(cache_type_bytes(type_));
    for (auto& v : kv_) if (v.size() < size_t(n * kv_dim_) * b) v.resize(size_t(n * kv_dim_) * b);
    for (auto& v : pe_) if (v.size() < size_t(n * pe_dim_) * b) v.resize(size_t(n * pe_dim_) * b);
  }
  void set_length(int64_t n) { length_ = n; }
  // Forgets positions >= n (rejected speculative tokens, a reset conversation).
  void truncate(int64_t n) { length_ = std::min(length_, n); }
  void clear() { length_ = 0; }

  // Writes one position's c_KV [kv_dim] and k_R [pe_dim], rounded to the cache's type.
  void store(int64_t layer, int64_t pos, const float* kv, const float* pe) {
    put(kv_[size_t(layer)], pos * kv_dim_, kv, kv_dim_);
    put(pe_[size_t(layer)], pos * pe_dim_, pe, pe_dim_);
  }
  // Reads one position back as float32 (exact: BF16 widens losslessly).
  void load(int64_t layer, int64_t pos, float* kv, float* pe) const {
    get(kv_[size_t(layer)], pos * kv_dim_, kv, kv_dim_);
    get(pe_[size_t(layer)], pos * pe_dim_, pe, pe_dim_);
  }
  // One layer's rows 0..len-1 as the attention kernel reads them.
  LatentRows rows(int64_t layer, int64_t len) const {
    const DType dt = type_ == CacheType::BF16 ? DType::BF16 : DType::F32;
    return {dt, kv_[size_t(layer)].data(), kv_dim_, pe_[size_t(layer)].data(), pe_dim_, len};
  }
  // Float32 caches only: one position's stored values.
  const float* kv(int64_t layer, int64_t pos) const { return f32(kv_[size_t(layer)]) + pos * kv_dim_; }
  const float* pe(int64_t layer, int64_t pos) const { return f32(pe_[size_t(layer)]) + pos * pe_dim_; }

  static int64_t bytes_per_token(int64_t n_layers, int64_t kv_dim, int64_t pe_dim, CacheType t = CacheType::F32) {
    return n_layers * (kv_dim + pe_dim) * cache_type_bytes(t);
  }

 private:
  void put(std::vector<uint8_t>& v, int64_t at, const float* src, int64_t n) const {
    if (type_ == CacheType::F32) {
      std::memcpy(v.data() + at * 4, src, size_t(n) * 4);
      return;
    }
    uint16_t* dst = reinterpret_cast<uint16_t*>(v.data()) + at;
    for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
  }
  void get(const std::vector<uint8_t>& v, int64_t at, float* dst, int64_t n) const {
    if (type_ == CacheType::F32) {
      std::memcpy(dst, v.data() + at * 4, size_t(n) * 4);
      return;
    }
    const uint16_t* src = reinterpret_cast<const uint16_t*>(v.data()) + at;
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
  }
  const float* f32(const std::vector<uint8_t>& v) const {
    if (type_ != CacheType::F32) fail("this latent cache holds ", cache_type_name(type_), ", not float32");
    return reinterpret_cast<const float*>(v.data());
  }

  CacheType type_ = CacheType::F32;
  int64_t kv_dim_ = 0, pe_dim_ = 0, length_ = 0;
  std::vector<std::vector<uint8_t>> kv_, pe_;  // [layer][pos · dim] in the cache's type
};

}  // namespace dsv3
