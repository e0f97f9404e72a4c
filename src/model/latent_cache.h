// The MLA cache of one sequence. Per layer and position it keeps only what MLA needs to rebuild
// every head's keys and values: the normalized latent c_kv [kv_lora_rank] and the one shared
// rotated key k_pe [qk_rope_head_dim] — 512 + 64 = 576 numbers per token per layer for
// DeepSeek-V3, where standard attention would keep 2 · 128 heads · 128.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace dsv3 {

class SequenceCache {
 public:
  SequenceCache() = default;
  SequenceCache(int64_t n_layers, int64_t kv_dim, int64_t pe_dim)
      : kv_dim_(kv_dim), pe_dim_(pe_dim), kv_(size_t(n_layers)), pe_(size_t(n_layers)) {}

  int64_t length() const { return length_; }
  int64_t n_layers() const { return int64_t(kv_.size()); }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t pe_dim() const { return pe_dim_; }

  // Makes room for positions [0, n); called before a forward writes them.
  void ensure(int64_t n) {
    for (auto& v : kv_) if (int64_t(v.size()) < n * kv_dim_) v.resize(size_t(n * kv_dim_));
    for (auto& v : pe_) if (int64_t(v.size()) < n * pe_dim_) v.resize(size_t(n * pe_dim_));
  }
  void set_length(int64_t n) { length_ = n; }
  // Forgets positions >= n (rejected speculative tokens, a reset conversation).
  void truncate(int64_t n) { length_ = std::min(length_, n); }
  void clear() { length_ = 0; }

  float* kv(int64_t layer, int64_t pos) { return kv_[size_t(layer)].data() + pos * kv_dim_; }
  float* pe(int64_t layer, int64_t pos) { return pe_[size_t(layer)].data() + pos * pe_dim_; }
  const float* kv(int64_t layer, int64_t pos) const { return kv_[size_t(layer)].data() + pos * kv_dim_; }
  const float* pe(int64_t layer, int64_t pos) const { return pe_[size_t(layer)].data() + pos * pe_dim_; }

  static int64_t bytes_per_token(int64_t n_layers, int64_t kv_dim, int64_t pe_dim) {
    return n_layers * (kv_dim + pe_dim) * int64_t(sizeof(float));
  }

 private:
  int64_t kv_dim_ = 0, pe_dim_ = 0, length_ = 0;
  std::vector<std::vector<float>> kv_, pe_;  // [layer][pos · dim]
};

}  // namespace dsv3
