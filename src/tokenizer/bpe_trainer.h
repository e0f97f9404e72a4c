// Training a byte-level BPE: count the pre-tokenized words of a corpus, then repeatedly merge
// the most frequent adjacent pair of symbols (ties: the smaller pair of ids) into a new symbol.
// Encoding with the learned merges in this order is what tokenizer.json's BPE model does.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace dsv3 {

class AddedTokens;
class PreTokenizer;

using WordCounts = std::unordered_map<std::string, int64_t>;

// Counts the words of `texts` (UTF-8) on all threads, as `pre` splits them, after cutting out
// the added tokens (they are never merged into other tokens).
WordCounts count_words(const std::vector<std::string_view>& texts, const PreTokenizer& pre, const AddedTokens& added);

struct BpeVocab {
  std::vector<std::string> tokens;                  // raw bytes: 0..255 the bytes, then merge results
  std::vector<std::array<int32_t, 2>> merges;       // indices into tokens, in rank order
};

struct BpeTrainOptions {
  size_t vocab_size = 16384;  // tokens wanted, the 256 bytes included
  int64_t min_frequency = 2;  // stop when the best pair is rarer than this
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

BpeVocab train_bpe(const WordCounts& words, const BpeTrainOptions& options);

}  // namespace dsv3
