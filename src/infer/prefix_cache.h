// Prefix caching: the latent KV rows of prompts already seen, reused by later prompts that start
// with the same tokens (a long system prompt, a multi-turn conversation, few-shot examples).
//
// Prompts are cut into blocks of SequenceCache::kPageTokens, one cache page each; block i is
// keyed by a hash chain
//   key_i = hash(key_{i-1}, tokens of block i),
// so a key names the whole prefix up to the block's end and a lookup walks the chain until the
// first miss (each hit is checked against the stored tokens and parent, so a hash collision is a
// miss, never wrong rows). A block holds references to the pages of the main cache and, with
// MTP speculation, of the MTP cache of the sequence that stored it: nothing is copied. A later
// sequence starts its caches from the same pages (SequenceCache::share), which stay read-only;
// a sequence about to write into a shared page (its prompt goes on inside the block) takes a
// private copy of that one page. N sequences on a cached prefix of P pages hold P pages between
// them, not N·P.
//
// What is restored: of a match of m tokens, at most prompt length - 1 positions (the last prompt
// token is always fed: its logits choose the first new token), and with MTP at most m - 1 (MTP
// row j depends on token j + 1, which the match fixes only for j < m - 1).
//
// Memory: blocks are evicted least recently used once their pages' bytes exceed the capacity
// (a page still used by a running sequence lives on until that sequence ends); a chain's blocks
// are touched from its end to its root, so leaves go before the blocks they extend.
#pragma once
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "model/latent_cache.h"

namespace dsv3 {

struct PrefixCacheStats {
  int64_t lookups = 0, hits = 0, reused_tokens = 0;  // hits: lookups that restored something
  int64_t blocks = 0, bytes = 0, evicted_blocks = 0;
};

class PrefixCache {
 public:
  explicit PrefixCache(int64_t capacity_bytes);

  // Starts the empty `cache` (and `mtp`, when given) from the pages of the longest stored prefix
  // of `prompt` and returns how many positions they hold (0 on a miss).
  int64_t restore(const std::vector<int32_t>& prompt, SequenceCache& cache, SequenceCache* mtp);
  // Stores the whole blocks of `prompt` whose rows `cache` (and `mtp`) hold, by reference.
  void store(const std::vector<int32_t>& prompt, const SequenceCache& cache, const SequenceCache* mtp);

  const PrefixCacheStats& stats() const { return stats_; }
  static constexpr int64_t block_tokens() { return SequenceCache::kPageTokens; }
  // Calls f(page) for the page of every stored block (main and MTP).
  template <class F>
  void for_each_page(F&& f) const {
    for (const auto& [key, b] : blocks_) {
      f(b.page);
      if (b.mtp_page) f(b.mtp_page);
    }
  }

 private:
  struct Block {
    uint64_t parent = 0;
    std::vector<int32_t> tokens;
    SequenceCache::Page page, mtp_page;  // mtp_page: null when stored without MTP
    uint64_t last_use = 0;
    int64_t bytes() const { return int64_t(page->size() + (mtp_page ? mtp_page->size() : 0)); }
  };
  // The chain of stored blocks matching the prompt's whole blocks, root first.
  std::vector<uint64_t> match(const std::vector<int32_t>& prompt, bool need_mtp) const;
  void touch(const std::vector<uint64_t>& chain);
  void evict();

  int64_t capacity_;
  std::unordered_map<uint64_t, Block> blocks_;
  std::map<uint64_t, uint64_t> lru_;  // last_use -> key
  uint64_t clock_ = 0;
  PrefixCacheStats stats_;
};

}  // namespace dsv3
