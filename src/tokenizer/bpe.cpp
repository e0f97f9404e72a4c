#include "tokenizer/bpe.h"

#include <atomic>
#include <queue>
#include <tuple>

namespace dsv3 {

namespace {

inline uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
inline uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return k;
}

// Words longer than this merge with the heap; shorter ones with the quadratic scan.
constexpr size_t kLongWord = 128;
// Only words shorter than this are cached; the cache is dropped when it holds this many words.
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCachedWords = 1 << 18;

std::atomic<uint64_t> g_next_owner{1};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct WordCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
};

WordCache& thread_cache() {
  thread_local WordCache cache;
  return cache;
}

}  // namespace

void BpeModel::clear_thread_cache() { thread_cache().words.clear(); }

BpeModel::BpeModel(const std::array<int32_t, 256>& byte_ids, const std::vector<Merge>& merges, bool ignore_merges,
                   std::unordered_map<std::string, int32_t> whole_words)
    : byte_ids_(byte_ids),
      merge_count_(merges.size()),
      ignore_merges_(ignore_merges),
      whole_words_(std::move(whole_words)),
      cache_owner_(g_next_owner++) {
  size_t cap = 16;
  while (cap < merges.size() * 2) cap <<= 1;
  table_.assign(cap, PairSlot{kEmpty, 0, 0});
  mask_ = cap - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& m = merges[rank];
    const uint64_t key = pair_key(m.left, m.right);
    uint64_t i = mix(key) & mask_;
    while (table_[i].key != kEmpty && table_[i].key != key) i = (i + 1) & mask_;
    // A pair listed twice keeps its last rank, as the reference's Map does.
    table_[i] = PairSlot{key, uint32_t(rank), m.result};
  }
}

const BpeModel::PairSlot* BpeModel::find_pair(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
    const PairSlot& s = table_[i];
    if (s.key == key) return &s;
    if (s.key == kEmpty) return nullptr;
  }
}

void BpeModel::merge_short(std::vector<int32_t>& syms) const {
  std::vector<uint32_t> ranks(syms.size() - 1);
  for (size_t i = 0; i + 1 < syms.size(); ++i) ranks[i] = rank_of(syms[i], syms[i + 1]);
  while (!ranks.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < ranks.size(); ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == kNoRank) break;
    syms[best] = find_pair(syms[best], syms[best + 1])->result;
    syms.erase(syms.begin() + std::ptrdiff_t(best) + 1);
    ranks.erase(ranks.begin() + std::ptrdiff_t(best));
    if (best > 0) ranks[best - 1] = rank_of(syms[best - 1], syms[best]);
    if (best < ranks.size()) ranks[best] = rank_of(syms[best], syms[best + 1]);
  }
}

void BpeModel::merge_long(std::vector<int32_t>& syms) const {
  const int n = int(syms.size());
  std::vector<int> prev(static_cast<size_t>(n)), next(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) prev[size_t(i)] = i - 1, next[size_t(i)] = i + 1 < n ? i + 1 : -1;
  // (rank, left position, left token, right token): the smallest rank, then the leftmost.
  using Entry = std::tuple<uint32_t, int, int32_t, int32_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto push = [&](int i) {
    const int j = next[size_t(i)];
    if (j < 0) return;
    const uint32_t r = rank_of(syms[size_t(i)], syms[size_t(j)]);
    if (r != kNoRank) heap.emplace(r, i, syms[size_t(i)], syms[size_t(j)]);
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  std::vector<bool> alive(static_cast<size_t>(n), true);
  while (!heap.empty()) {
    const auto [r, i, l, rt] = heap.top();
    heap.pop();
    const int j = next[size_t(i)];
    // Entries go stale when a neighbour merged; the tokens recorded tell.
    if (!alive[size_t(i)] || j < 0 || syms[size_t(i)] != l || syms[size_t(j)] != rt) continue;
    syms[size_t(i)] = find_pair(l, rt)->result;
    alive[size_t(j)] = false;
    next[size_t(i)] = next[size_t(j)];
    if (next[size_t(i)] >= 0) prev[size_t(next[size_t(i)])] = i;
    if (prev[size_t(i)] >= 0) push(prev[size_t(i)]);
    push(i);
  }
  size_t w = 0;
  for (int i = 0; i >= 0; i = next[size_t(i)]) syms[w++] = syms[size_t(i)];
  syms.resize(w);
}

void BpeModel::encode_word_uncached(std::string_view word, std::vector<int32_t>& out, Loop loop) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (auto it = whole_words_.find(std::string(word)); it != whole_words_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  std::vector<int32_t> syms(word.size());
  for (size_t i = 0; i < word.size(); ++i) syms[i] = byte_ids_[uint8_t(word[i])];
  if (syms.size() > 1) {
    if (loop == Loop::kScan || (loop == Loop::kAuto && syms.size() < kLongWord))
      merge_short(syms);
    else
      merge_long(syms);
  }
  out.insert(out.end(), syms.begin(), syms.end());
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_ids_[uint8_t(word[0])]);
    return;
  }
  if (word.size() >= kMaxCachedWordBytes) return encode_word_uncached(word, out);
  WordCache& cache = thread_cache();
  if (cache.owner != cache_owner_ || cache.words.size() >= kMaxCachedWords) {
    cache.words.clear();
    cache.owner = cache_owner_;
  }
  if (auto it = cache.words.find(word); it != cache.words.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  const size_t start = out.size();
  encode_word_uncached(word, out);
  cache.words.emplace(std::string(word), std::vector<int32_t>(out.begin() + std::ptrdiff_t(start), out.end()));
}

}  // namespace dsv3
