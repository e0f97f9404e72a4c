#include "tokenizer/bpe_trainer.h"

#include <omp.h>

#include <algorithm>
#include <queue>

#include "core/error.h"
#include "core/parallel.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/pretokenizer.h"

namespace dsv3 {

namespace {

using Pair = uint64_t;  // left << 32 | right
inline Pair make_pair(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
inline int32_t left_of(Pair p) { return int32_t(p >> 32); }
inline int32_t right_of(Pair p) { return int32_t(p & 0xFFFFFFFFu); }

struct Word {
  std::vector<int32_t> syms;
  int64_t count;
};

struct PairStats {
  std::unordered_map<Pair, int64_t> count;
  std::unordered_map<Pair, std::vector<uint32_t>> words;  // may hold stale or repeated entries
};

// Max-heap order: the higher count first, then the smaller pair.
struct Candidate {
  int64_t count;
  Pair pair;
  bool operator<(const Candidate& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};

PairStats initial_pairs(const std::vector<Word>& words) {
  PairStats st;
  for (uint32_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].syms;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const Pair p = make_pair(s[i], s[i + 1]);
      st.count[p] += words[w].count;
      auto& list = st.words[p];
      if (list.empty() || list.back() != w) list.push_back(w);
    }
  }
  return st;
}

// Replaces every (left, right) in the word, left to right, by `merged`, updating the pair
// counts by the word's count; `touched` collects the pairs whose counts changed.
void merge_word(Word& word, uint32_t index, Pair pair, int32_t merged, PairStats& st, std::vector<Pair>& touched) {
  auto& s = word.syms;
  const int32_t l = left_of(pair), r = right_of(pair);
  bool found = false;
  for (size_t i = 0; i + 1 < s.size(); ++i) found |= s[i] == l && s[i + 1] == r;
  if (!found) return;  // a stale entry of the pair's word list
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    const Pair p = make_pair(s[i], s[i + 1]);
    st.count[p] -= word.count;
    touched.push_back(p);
  }
  std::vector<int32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (i + 1 < s.size() && s[i] == l && s[i + 1] == r) {
      out.push_back(merged);
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  s.swap(out);
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    const Pair p = make_pair(s[i], s[i + 1]);
    st.count[p] += word.count;
    touched.push_back(p);
    if (s[i] == merged || s[i + 1] == merged) {
      auto& list = st.words[p];
      if (list.empty() || list.back() != index) list.push_back(index);
    }
  }
}

}  // namespace

WordCounts count_words(const std::vector<std::string_view>& texts, const PreTokenizer& pre, const AddedTokens& added) {
  const int threads = std::max(1, num_threads());
  std::vector<WordCounts> partial(size_t(threads), WordCounts{});
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t t = 0; t < int64_t(texts.size()); ++t) {
    WordCounts& counts = partial[size_t(omp_get_thread_num())];
    std::vector<AddedTokens::Section> sections;
    added.split(texts[size_t(t)], sections);
    for (const auto& s : sections)
      if (s.token < 0) pre.split(s.text, [&](std::string_view piece) { ++counts[std::string(piece)]; });
  }
  WordCounts total = std::move(partial[0]);
  for (size_t i = 1; i < partial.size(); ++i)
    for (auto& [w, c] : partial[i]) total[w] += c;
  return total;
}

BpeVocab train_bpe(const WordCounts& counts, const BpeTrainOptions& opt) {
  if (opt.vocab_size < 256) fail("BPE vocab size ", opt.vocab_size, " is below the 256 byte tokens");
  BpeVocab v;
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(1, char(b));
  std::vector<Word> words;
  words.reserve(counts.size());
  for (const auto& [text, c] : counts) {
    Word w{{}, c};
    for (const char ch : text) w.syms.push_back(int32_t(uint8_t(ch)));
    words.push_back(std::move(w));
  }
  // Deterministic regardless of hash order: words sorted by their bytes.
  std::sort(words.begin(), words.end(), [](const Word& a, const Word& b) { return a.syms < b.syms; });
  PairStats st = initial_pairs(words);
  std::priority_queue<Candidate> heap;
  for (const auto& [p, c] : st.count) heap.push({c, p});
  std::unordered_map<std::string, int32_t> token_index;
  for (int32_t i = 0; i < 256; ++i) token_index[v.tokens[size_t(i)]] = i;
  std::vector<Pair> touched;
  while (v.tokens.size() < opt.vocab_size && !heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    const auto it = st.count.find(top.pair);
    if (it == st.count.end() || it->second != top.count) continue;  // stale
    if (top.count < opt.min_frequency) break;
    const std::string bytes = v.tokens[size_t(left_of(top.pair))] + v.tokens[size_t(right_of(top.pair))];
    // Two merges can spell the same bytes ("ab"+"c", "a"+"bc"): they share one token.
    auto [slot, fresh] = token_index.emplace(bytes, int32_t(v.tokens.size()));
    if (fresh) v.tokens.push_back(bytes);
    v.merges.push_back({left_of(top.pair), right_of(top.pair)});
    std::vector<uint32_t> list = std::move(st.words[top.pair]);
    st.words.erase(top.pair);
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    touched.clear();
    for (const uint32_t w : list) merge_word(words[w], w, top.pair, slot->second, st, touched);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (const Pair p : touched) {
      const auto c = st.count.find(p);
      if (c == st.count.end()) continue;
      if (c->second <= 0) {
        st.count.erase(c);
      } else {
        heap.push({c->second, p});
      }
    }
    if (opt.log && v.merges.size() % 1000 == 0)
      opt.log(cat("merge ", v.merges.size(), ": count ", top.count, ", ", v.tokens.size(), " tokens"));
  }
  return v;
}

}  // namespace dsv3
