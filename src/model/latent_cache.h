// The MLA cache of one sequence. Per layer and position it keeps only what MLA needs to rebuild
// every head's keys and values: the normalized latent c_kv [kv_lora_rank] and the one shared
// rotated key k_pe [qk_rope_head_dim] — 512 + 64 = 576 numbers per token per layer for
// DeepSeek-V3, where standard attention would keep 2 · 128 heads · 128.
//
// The numbers are stored as float32 (exact: what `dsv3 logits` checks against the reference),
// BF16 (half the memory and half the bytes the attention reads per decoded token; the default
// of generate/chat/serve/bench) or FP8: c_KV in E4M3 with one float32 scale per position and
// layer, k_R in BF16 (as FlashMLA's FP8 cache keeps the RoPE part: positions are told apart by
// it, and 64 values are 11% of the row): 56% of BF16's bytes. Why a scale per row and not
// DeepSeek's 1x128 tiles: E4M3 is a
// floating-point format, so a value's relative rounding (2^-4 at most) does not depend on the
// scale; the scale only has to keep the row inside E4M3's range. Scaling the row's largest
// |value| to 448 keeps every value down to 2^-9 / 448 ≈ 2^-17.8 of it (2^-9: E4M3's smallest
// subnormal); what flushes to zero weighs < 2^-17 of the largest term of a dot product with the
// row, far below the 2^-4 rounding. Finer tiles would add 4 bytes per 128 values for no accuracy a
// dot product can see. Attention reads all three in place (kernels/attention.h), page by page.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/attention.h"

namespace dsv3 {

enum class CacheType { F32, BF16, FP8 };

inline const char* cache_type_name(CacheType t) {
  return t == CacheType::BF16 ? "bf16" : t == CacheType::FP8 ? "fp8" : "f32";
}
inline CacheType parse_cache_type(const std::string& s) {
  if (s == "f32") return CacheType::F32;
  if (s == "bf16") return CacheType::BF16;
  if (s == "fp8") return CacheType::FP8;
  fail("cache type '", s, "': expected f32, bf16 or fp8");
}
// Bytes per stored c_KV value, and per position and layer for the FP8 scale (c_KV's).
inline int64_t cache_type_bytes(CacheType t) { return t == CacheType::BF16 ? 2 : t == CacheType::FP8 ? 1 : 4; }
inline int64_t cache_scale_bytes(CacheType t) { return t == CacheType::FP8 ? 4 : 0; }
// k_R's bytes per value: BF16 in the FP8 cache.
inline int64_t cache_pe_bytes(CacheType t) { return t == CacheType::FP8 ? 2 : cache_type_bytes(t); }

// What new caches use when not told (a process-wide choice: the CLI sets it per command).
inline CacheType& default_cache_type() {
  static CacheType t = CacheType::F32;
  return t;
}

// Positions are kept in pages of kPageTokens. A page holds its positions for every layer and
// may be shared by several caches (sequences that start with the same prompt, through the
// prefix cache in infer/prefix_cache.h): a shared page is read-only, and a cache about to
// write into one first takes a private copy of it (ensure()). Copying a SequenceCache shares
// all its pages.
class SequenceCache {
 public:
  static constexpr int64_t kPageTokens = 16;
  // Page bytes: [layer][c_KV: kPageTokens x kv_dim | k_R: kPageTokens x pe_dim], in the cache's
  // type (FP8: c_KV E4M3, k_R BF16); FP8 then [layer][kPageTokens] c_KV scales, float32 (4-byte
  // aligned: the values before them are a multiple of kPageTokens = 16 bytes).
  using Page = std::shared_ptr<std::vector<uint8_t>>;

  SequenceCache() = default;
  SequenceCache(int64_t n_layers, int64_t kv_dim, int64_t pe_dim, CacheType type = default_cache_type())
      : type_(type), n_layers_(n_layers), kv_dim_(kv_dim), pe_dim_(pe_dim) {}

  int64_t length() const { return length_; }
  int64_t n_layers() const { return n_layers_; }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t pe_dim() const { return pe_dim_; }
  CacheType type() const { return type_; }

  // Makes room for positions [0, n) and makes the pages of [length(), n), which a forward is
  // about to write, this cache's own (a shared page is copied first).
  void ensure(int64_t n) {
    const int64_t first = length_ / kPageTokens, count = (n + kPageTokens - 1) / kPageTokens;
    for (int64_t p = first; p < std::min<int64_t>(count, n_pages()); ++p)
      if (pages_[size_t(p)].use_count() > 1) set_page(p, std::make_shared<std::vector<uint8_t>>(*pages_[size_t(p)]));
    while (n_pages() < count) {
      pages_.push_back(std::make_shared<std::vector<uint8_t>>(size_t(page_bytes())));
      bases_.push_back(pages_.back()->data());
    }
  }
  void set_length(int64_t n) { length_ = n; }
  // Forgets positions >= n (rejected speculative tokens, a reset conversation).
  void truncate(int64_t n) { length_ = std::min(length_, n); }
  void clear() { length_ = 0; }

  // Pages, for sharing: page i holds positions [i·kPageTokens, (i+1)·kPageTokens).
  int64_t n_pages() const { return int64_t(pages_.size()); }
  const Page& page(int64_t i) const { return pages_[size_t(i)]; }
  int64_t page_bytes() const { return n_layers_ * kPageTokens * token_layer_bytes(kv_dim_, pe_dim_, type_); }
  // Starts this (empty) cache from shared pages holding positions [0, n): nothing is copied.
  void share(const std::vector<Page>& pages, int64_t n) {
    if (length_ != 0 || !pages_.empty() || n > int64_t(pages.size()) * kPageTokens)
      fail("shared pages go into an empty cache and must cover the positions they hold");
    for (const Page& p : pages) {
      if (int64_t(p->size()) != page_bytes()) fail("a shared page of ", p->size(), " bytes, expected ", page_bytes());
      pages_.push_back(p);
      bases_.push_back(p->data());
    }
    length_ = n;
  }

  // Writes one position's c_KV [kv_dim] and k_R [pe_dim], rounded to the cache's type, into a
  // page of this cache's own (ensure() made it so).
  void store(int64_t layer, int64_t pos, const float* kv, const float* pe) {
    uint8_t* base = pages_[size_t(pos / kPageTokens)]->data();
    float* scales = type_ == CacheType::FP8 ? reinterpret_cast<float*>(base + scale_offset(layer, pos)) : nullptr;
    put(base + kv_offset(layer, pos), kv, kv_dim_, type_, scales);
    put(base + pe_offset(layer, pos), pe, pe_dim_, pe_type(), nullptr);
  }
  // Reads one position back as float32 (exact: BF16 widens losslessly, FP8 gives code · scale).
  void load(int64_t layer, int64_t pos, float* kv, float* pe) const {
    const uint8_t* base = bases_[size_t(pos / kPageTokens)];
    const float* scales =
        type_ == CacheType::FP8 ? reinterpret_cast<const float*>(base + scale_offset(layer, pos)) : nullptr;
    get(base + kv_offset(layer, pos), kv, kv_dim_, type_, scales);
    get(base + pe_offset(layer, pos), pe, pe_dim_, pe_type(), nullptr);
  }
  // One layer's rows 0..len-1 as the attention kernel reads them: through the page table.
  LatentRows rows(int64_t layer, int64_t len) const {
    const DType dt = type_ == CacheType::BF16 ? DType::BF16 : type_ == CacheType::FP8 ? DType::F8_E4M3 : DType::F32;
    LatentRows r{dt, nullptr, kv_dim_, nullptr, pe_dim_, len};
    r.pages = bases_.data();
    r.page_len = kPageTokens;
    r.kv_offset = kv_offset(layer, 0);
    r.pe_offset = pe_offset(layer, 0);
    if (type_ == CacheType::FP8) r.scale_offset = scale_offset(layer, 0);
    return r;
  }
  // Float32 caches only: one position's stored values.
  const float* kv(int64_t layer, int64_t pos) const { return f32(bases_[size_t(pos / kPageTokens)] + kv_offset(layer, pos)); }
  const float* pe(int64_t layer, int64_t pos) const { return f32(bases_[size_t(pos / kPageTokens)] + pe_offset(layer, pos)); }

  static int64_t bytes_per_token(int64_t n_layers, int64_t kv_dim, int64_t pe_dim, CacheType t = CacheType::F32) {
    return n_layers * token_layer_bytes(kv_dim, pe_dim, t);
  }

 private:
  static int64_t token_layer_bytes(int64_t kv_dim, int64_t pe_dim, CacheType t) {
    return kv_dim * cache_type_bytes(t) + pe_dim * cache_pe_bytes(t) + cache_scale_bytes(t);
  }
  // Byte offsets inside a page of position pos's c_KV and k_R of one layer.
  int64_t layer_bytes() const {
    return kPageTokens * (kv_dim_ * cache_type_bytes(type_) + pe_dim_ * cache_pe_bytes(type_));
  }
  int64_t kv_offset(int64_t layer, int64_t pos) const {
    return layer * layer_bytes() + (pos % kPageTokens) * kv_dim_ * cache_type_bytes(type_);
  }
  int64_t pe_offset(int64_t layer, int64_t pos) const {
    return layer * layer_bytes() + kPageTokens * kv_dim_ * cache_type_bytes(type_) +
           (pos % kPageTokens) * pe_dim_ * cache_pe_bytes(type_);
  }
  int64_t scale_offset(int64_t layer, int64_t pos) const {
    return n_layers_ * layer_bytes() + (layer * kPageTokens + pos % kPageTokens) * cache_scale_bytes(type_);
  }
  CacheType pe_type() const { return type_ == CacheType::FP8 ? CacheType::BF16 : type_; }
  void set_page(int64_t i, Page p) {
    pages_[size_t(i)] = std::move(p);
    bases_[size_t(i)] = pages_[size_t(i)]->data();
  }
  // FP8: *scale = max |src| / 448 (1 for an all-zero row), codes = e4m3(src / scale).
  static void put(uint8_t* at, const float* src, int64_t n, CacheType type, float* scale) {
    if (type == CacheType::F32) {
      std::memcpy(at, src, size_t(n) * 4);
    } else if (type == CacheType::BF16) {
      uint16_t* dst = reinterpret_cast<uint16_t*>(at);
      for (int64_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
    } else {
      float amax = 0.0f;
      for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(src[i]));
      *scale = amax > 0.0f ? amax / kFp8E4M3Max : 1.0f;
      for (int64_t i = 0; i < n; ++i) at[i] = f32_to_fp8_e4m3(src[i] / *scale);
    }
  }
  static void get(const uint8_t* at, float* dst, int64_t n, CacheType type, const float* scale) {
    if (type == CacheType::F32) {
      std::memcpy(dst, at, size_t(n) * 4);
    } else if (type == CacheType::BF16) {
      const uint16_t* src = reinterpret_cast<const uint16_t*>(at);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) dst[i] = fp8_e4m3_to_f32(at[i]) * *scale;
    }
  }
  const float* f32(const uint8_t* at) const {
    if (type_ != CacheType::F32) fail("this latent cache holds ", cache_type_name(type_), ", not float32");
    return reinterpret_cast<const float*>(at);
  }

  CacheType type_ = CacheType::F32;
  int64_t n_layers_ = 0, kv_dim_ = 0, pe_dim_ = 0, length_ = 0;
  std::vector<Page> pages_;
  std::vector<const uint8_t*> bases_;  // pages_[i]->data(): the page table the attention reads
};

}  // namespace dsv3
