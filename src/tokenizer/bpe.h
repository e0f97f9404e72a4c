// Byte-pair encoding by merge rank, on raw bytes. A word's bytes start as the 256 byte tokens;
// repeatedly the adjacent pair with the lowest merge rank (the leftmost of equals) is replaced
// by its merge, until no adjacent pair has one: the order the reference applies merges in.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv3 {

class BpeModel {
 public:
  struct Merge {
    int32_t left, right, result;  // token ids; merges are given in rank order
  };

  // byte_ids[b]: the token of the single byte b. With ignore_merges, a whole word that is a
  // vocab entry (whole_words) is emitted as that token without merging.
  BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges, bool ignore_merges,
           std::unordered_map<std::string, int32_t> whole_words);

  // Appends the tokens of one pre-tokenized word. Results are cached per thread.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // The same without the cache. `loop` picks the merge loop (tests check that both agree).
  enum class Loop { kAuto, kScan, kHeap };
  void encode_word_uncached(std::string_view word, std::vector<int32_t>& out, Loop loop = Loop::kAuto) const;

  size_t merge_count() const { return merge_count_; }
  // Empties this thread's cache (benchmarks measure the cold cache with it).
  static void clear_thread_cache();

 private:
  static constexpr uint32_t kNoRank = UINT32_MAX;
  struct PairSlot {
    uint64_t key;  // left << 32 | right; kEmpty when unused
    uint32_t rank;
    int32_t result;
  };
  static constexpr uint64_t kEmpty = UINT64_MAX;

  const PairSlot* find_pair(int32_t left, int32_t right) const;
  uint32_t rank_of(int32_t left, int32_t right) const {
    const PairSlot* s = find_pair(left, right);
    return s ? s->rank : kNoRank;
  }
  void merge_short(std::vector<int32_t>& syms) const;  // O(n^2), fastest for short words
  void merge_long(std::vector<int32_t>& syms) const;   // O(n log n) with a heap

  std::array<int32_t, 256> byte_ids_{};
  std::vector<PairSlot> table_;  // open addressing, power-of-two size
  uint64_t mask_ = 0;
  size_t merge_count_ = 0;
  bool ignore_merges_ = false;
  std::unordered_map<std::string, int32_t> whole_words_;
  uint64_t cache_owner_;  // identifies this model to the per-thread caches
};

}  // namespace dsv3
