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

PrefixCache::PrefixCache(int64_t capacity_bytes) : capacity_(capacity_bytes) {}

std::vector<uint64_t> PrefixCache::match(const std::vector<int32_t>& prompt, bool need_mtp) const {
  std::vector<uint64_t> chain;
  uint64_t parent = 0;
  for (int64_t b = 0; (b + 1) * block_tokens() <= int64_t(prompt.size()); ++b) {
    const int32_t* t = prompt.data() + b * block_tokens();
    const uint64_t key = block_key(parent, t, block_tokens());
    const auto it = blocks_.find(key);
    if (it == blocks_.end() || it->second.parent != parent || (need_mtp && !it->second.mtp_page) ||
        !std::equal(t, t + block_tokens(), it->second.tokens.begin()))
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
  const int64_t matched = int64_t(chain.size()) * block_tokens();
  const int64_t n = std::min<int64_t>(mtp ? matched - 1 : matched, int64_t(prompt.size()) - 1);
  if (n <= 0) return 0;
  touch(chain);
  std::vector<SequenceCache::Page> pages, mtp_pages;
  for (int64_t b = 0; b * block_tokens() < n; ++b) {
    const Block& blk = blocks_.at(chain[size_t(b)]);
    pages.push_back(blk.page);
    if (mtp) mtp_pages.push_back(blk.mtp_page);
  }
  cache.share(pages, n);
  if (mtp) mtp->share(mtp_pages, n);
  ++stats_.hits;
  stats_.reused_tokens += n;
  return n;
}

void PrefixCache::store(const std::vector<int32_t>& prompt, const SequenceCache& cache, const SequenceCache* mtp) {
  std::vector<uint64_t> chain;
  uint64_t parent = 0;
  const int64_t T = block_tokens();
  for (int64_t b = 0; (b + 1) * T <= int64_t(prompt.size()) && (b + 1) * T <= cache.length() &&
                      (!mtp || (b + 1) * T <= mtp->length());
       ++b) {
    const int32_t* t = prompt.data() + b * T;
    const uint64_t key = block_key(parent, t, T);
    auto it = blocks_.find(key);
    if (it != blocks_.end() && (it->second.parent != parent || !std::equal(t, t + T, it->second.tokens.begin())))
      break;  // a hash collision: keep the block there, store nothing deeper
    if (it == blocks_.end()) {
      Block blk;
      blk.parent = parent;
      blk.tokens.assign(t, t + T);
      blk.page = cache.page(b);  // shared from now on: read-only for every cache holding it
      if (mtp) blk.mtp_page = mtp->page(b);
      stats_.bytes += blk.bytes();
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
    stats_.bytes -= it->second.bytes();
    --stats_.blocks;
    ++stats_.evicted_blocks;
    blocks_.erase(it);
    lru_.erase(oldest);
  }
}

}  // namespace dsv3
