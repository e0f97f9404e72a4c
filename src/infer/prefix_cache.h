// Prefix caching: the latent KV rows of prompts already seen, reused by later prompts that start
// with the same tokens (a long system prompt, a multi-turn conversation, few-shot examples).
//
// Prompts are cut into blocks of `block_tokens`; block i is keyed by a hash chain
//   key_i = hash(key_{i-1}, tokens of block i),
// so a key names the whole prefix up to the block's end and a lookup walks the chain until the
// first miss (each hit is checked against the stored tokens and parent, so a hash collision is a
// miss, never wrong rows). Blocks hold the rows of every layer of the main cache and, with MTP
// speculation, of the MTP cache; they are read-only once stored and shared by every prompt that
// matches. A new sequence gets a copy of the matched rows in its own cache (attention reads one
// contiguous cache per sequence) and is prefilled from there.
//
// What is restored: of a match of m tokens, the first min(m, prompt length) - 1 positions. The
// last prompt token is always fed (its logits choose the first new token), and MTP row j
// depends on token j+1, known inside the match only for j < m - 1.
//
// Memory: blocks are evicted least recently used once their bytes exceed the capacity; a
// chain's blocks are touched from its end to its root, so leaves go before the blocks they
// extend.
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
  PrefixCache(int64_t capacity_bytes, int64_t block_tokens = 16);

  // Copies the cached rows of the longest stored prefix of `prompt` into `cache` (and `mtp`,
  // when given) and returns how many positions it restored (0 on a miss).
  int64_t restore(const std::vector<int32_t>& prompt, SequenceCache& cache, SequenceCache* mtp);
  // Stores the whole blocks of `prompt` whose rows `cache` (and `mtp`) hold.
  void store(const std::vector<int32_t>& prompt, const SequenceCache& cache, const SequenceCache* mtp);

  const PrefixCacheStats& stats() const { return stats_; }
  int64_t block_tokens() const { return block_; }

 private:
  struct Block {
    uint64_t parent = 0;
    std::vector<int32_t> tokens;
    std::vector<float> rows;  // copy_rows_out of the main cache, then of the MTP cache
    bool has_mtp = false;
    uint64_t last_use = 0;
  };
  // The chain of stored blocks matching the prompt's whole blocks, root first.
  std::vector<uint64_t> match(const std::vector<int32_t>& prompt, bool need_mtp) const;
  void touch(const std::vector<uint64_t>& chain);
  void evict();

  int64_t capacity_, block_;
  std::unordered_map<uint64_t, Block> blocks_;
  std::map<uint64_t, uint64_t> lru_;  // last_use -> key
  uint64_t clock_ = 0;
  PrefixCacheStats stats_;
};

// The one place that reads and writes a SequenceCache's rows for the prefix cache, as floats:
// positions [pos0, pos0 + n) of every layer, laid out [layer][n][kv_dim + pe_dim].
int64_t cache_row_floats(const SequenceCache& c);  // floats per position, all layers
void copy_rows_out(const SequenceCache& c, int64_t pos0, int64_t n, float* dst);
void copy_rows_in(SequenceCache& c, int64_t pos0, int64_t n, const float* src);  // c.ensure() first

}  // namespace dsv3
