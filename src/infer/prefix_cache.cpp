#include "infer/prefix_cache.h"

#include <algorithm>

namespace dsv3 {

namespace {

uint64_t mix(uint64_t h, uint64_t v) {  // splitmix64 of the combination
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

constexpr uint64_t kRoot = 0x5DEECE66Dull;  // the parent of the first block

uint64_t block_key(uint64_t parent, const int32_t* tokens, int64_t n) {
  uint64_t h = mix(kRoot, parent);
  for (int64_t i = 0; i < n; ++i) h = mix(h, uint64_t(uint32_t(tokens[i])));
  return h;
}

}  // namespace

int64_t cache_row_floats(const SequenceCache& c) { return c.n_layers() * (c.kv_dim() + c.pe_dim()); }

void copy_rows_out(const SequenceCache& c, int64_t pos0, int64_t n, float* dst) {
  const int64_t kv = c.kv_dim(), pe = c.pe_dim();
  for (int64_t l = 0; l < c.n_layers(); ++l)
    for (int64_t p = pos0; p < pos0 + n; ++p) {
      c.load(l, p, dst, dst + kv);  // float32 (exact for either cache type)
      dst += kv + pe;
    }
}

void copy_rows_in(SequenceCache& c, int64_t pos0, int64_t n, const float* src) {
  const int64_t kv = c.kv_dim(), pe = c.pe_dim();
  for (int64_t l = 0; l < c.n_layers(); ++l)
    for (int64_t p = pos0; p < pos0 + n; ++p) {
      c.store(l, p, src, src + kv);
      src += kv + pe;
    }
}

PrefixCache::PrefixCache(int64_t capacity_bytes, int64_t block_tokens)
    : capacity_(capacity_bytes), block_(std::max<int64_t>(1, block_tokens)) {}

std::vector<uint64_t> PrefixCache::match(const std::vector<int32_t>& prompt, bool need_mtp) const {
  std::vector<uint64_t> chain;
  uint64_t parent = 0;
  for (int64_t b = 0; (b + 1) * block_ <= int64_t(prompt.size()); ++b) {
    const int32_t* t = prompt.data() + b * block_;
    const uint64_t key = block_key(parent, t, block_);
    const auto it = blocks_.find(key);
    if (it == blocks_.end() || it->second.parent != parent || (need_mtp && !it->second.has_mtp) ||
        !std::equal(t, t + block_, it->second.tokens.begin()))
      break;
    chain.push_back(key);
    parent = key;
  }
  return chain;
}

void PrefixCache::touch(const std::vector<uint64_t>& chain) {
  for (auto k = chain.rbegin(); k != chain.rend(); ++k) {
    Block& b = blocks_.at(*k);
    lru_.erase(b.last_use);
    b.last_use = ++clock_;
    lru_[b.last_use] = *k;
  }
}

int64_t PrefixCache::restore(const std::vector<int32_t>& prompt, SequenceCache& cache, SequenceCache* mtp) {
  ++stats_.lookups;
  const std::vector<uint64_t> chain = match(prompt, mtp != nullptr);
  const int64_t matched = int64_t(chain.size()) * block_;
  const int64_t n = std::min<int64_t>(matched, int64_t(prompt.size())) - 1;
  if (n <= 0) return 0;
  touch(chain);
  cache.ensure(n);
  if (mtp) mtp->ensure(n);
  const int64_t main_floats = block_ * cache_row_floats(cache);
  for (int64_t b = 0; b * block_ < n; ++b) {
    const Block& blk = blocks_.at(chain[size_t(b)]);
    const int64_t rows = std::min(block_, n - b * block_);
    // Rows of one layer are contiguous per block: copy layer by layer through a view.
    std::vector<float> part(size_t(rows * cache_row_floats(cache)));
    const int64_t per_layer = cache.kv_dim() + cache.pe_dim();
    for (int64_t l = 0; l < cache.n_layers(); ++l)
      std::copy_n(blk.rows.data() + l * block_ * per_layer, rows * per_layer, part.data() + l * rows * per_layer);
    copy_rows_in(cache, b * block_, rows, part.data());
    if (mtp) {
      const int64_t mtp_layer = mtp->kv_dim() + mtp->pe_dim();
      std::vector<float> mpart(size_t(rows * cache_row_floats(*mtp)));
      for (int64_t l = 0; l < mtp->n_layers(); ++l)
        std::copy_n(blk.rows.data() + main_floats + l * block_ * mtp_layer, rows * mtp_layer,
                    mpart.data() + l * rows * mtp_layer);
      copy_rows_in(*mtp, b * block_, rows, mpart.data());
    }
  }
  cache.set_length(n);
  if (mtp) mtp->set_length(n);
  ++stats_.hits;
  stats_.reused_tokens += n;
  return n;
}

void PrefixCache::store(const std::vector<int32_t>& prompt, const SequenceCache& cache, const SequenceCache* mtp) {
  std::vector<uint64_t> chain;
  uint64_t parent = 0;
  const int64_t row_floats = cache_row_floats(cache) + (mtp ? cache_row_floats(*mtp) : 0);
  for (int64_t b = 0; (b + 1) * block_ <= int64_t(prompt.size()) && (b + 1) * block_ <= cache.length(); ++b) {
    const int32_t* t = prompt.data() + b * block_;
    const uint64_t key = block_key(parent, t, block_);
    auto it = blocks_.find(key);
    if (it != blocks_.end() && (it->second.parent != parent || !std::equal(t, t + block_, it->second.tokens.begin())))
      break;  // a hash collision: keep the block there, store nothing deeper
    if (it == blocks_.end()) {
      Block blk;
      blk.parent = parent;
      blk.tokens.assign(t, t + block_);
      blk.rows.resize(size_t(block_ * row_floats));
      copy_rows_out(cache, b * block_, block_, blk.rows.data());
      if (mtp) copy_rows_out(*mtp, b * block_, block_, blk.rows.data() + block_ * cache_row_floats(cache));
      blk.has_mtp = mtp != nullptr;
      stats_.bytes += int64_t(blk.rows.size() * sizeof(float));
      ++stats_.blocks;
      it = blocks_.emplace(key, std::move(blk)).first;
    }
    chain.push_back(key);
    parent = key;
  }
  touch(chain);
  evict();
}

void PrefixCache::evict() {
  while (stats_.bytes > capacity_ && !lru_.empty()) {
    const auto oldest = lru_.begin();
    const auto it = blocks_.find(oldest->second);
    stats_.bytes -= int64_t(it->second.rows.size() * sizeof(float));
    --stats_.blocks;
    ++stats_.evicted_blocks;
    blocks_.erase(it);
    lru_.erase(oldest);
  }
}

}  // namespace dsv3
