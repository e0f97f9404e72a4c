// Added tokens (special or not) are cut out of raw text before anything else, as the reference
// does: at each position the longest added token starting there wins, scanning left to right.
// lstrip/rstrip trim JavaScript whitespace off the neighbouring text; single_word and
// normalized are ignored, as they are by the reference.
#pragma once
#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dsv3 {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false, lstrip = false, rstrip = false;
};

class AddedTokens {
 public:
  AddedTokens() = default;
  explicit AddedTokens(std::vector<AddedToken> tokens);

  // A piece of the input: raw text (token < 0) or one added token.
  struct Section {
    std::string_view text;
    int32_t token = -1;
  };
  // Cuts `text` into sections; empty text sections are left out.
  void split(std::string_view text, std::vector<Section>& out) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find_content(std::string_view content) const;
  const AddedToken* find_id(int32_t id) const;

 private:
  // Length of the longest added token at text[pos], and its index; 0 if none.
  size_t match_at(std::string_view text, size_t pos, size_t& index) const;

  std::vector<AddedToken> tokens_;
  std::bitset<256> first_bytes_;
  // Trie over bytes: (node << 8 | byte) -> child node; terminal[node] = token index + 1.
  std::unordered_map<uint64_t, uint32_t> children_;
  std::vector<uint32_t> terminal_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
};

// Length of the JavaScript whitespace (String.prototype.trim's set) at the start / end of s.
size_t js_leading_space(std::string_view s);
size_t js_trailing_space(std::string_view s);

}  // namespace dsv3
