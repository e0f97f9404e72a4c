// Constrained decoding: before each token is chosen, the tokens that would break the required
// form get a logit of -inf. TokenConstraint is what the Batcher sees; JsonConstraint makes the
// output a JSON value of a JsonGrammar followed by fixed tokens (end of sequence, or the closing
// of a tool call), checking every token's bytes against a JsonMatcher.
//
// Cost per step: inside a string's text, a precomputed mask of the plain-text tokens plus a
// check of the few tokens holding a quote, backslash, control byte or a cut character; anywhere
// else, a walk of the vocabulary's byte trie that stops at the first byte the grammar refuses.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "infer/json_matcher.h"

namespace dsv3 {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logits [n] of the tokens not allowed next to -inf.
  virtual void mask(float* logits, int64_t n) = 0;
  // The token that was chosen (one the mask allowed).
  virtual void advance(int32_t token) = 0;
};

// The model's vocabulary as bytes, for masks. Tokens without bytes (special tokens, ids past
// the tokenizer's) never appear inside constrained text.
class TokenTrie {
 public:
  // token_bytes[id]: the bytes of token id; empty: never used in text.
  explicit TokenTrie(const std::vector<std::string>& token_bytes);
  int64_t vocab_size() const { return int64_t(bytes_.size()); }
  const std::string& bytes(int32_t id) const { return bytes_[size_t(id)]; }

 private:
  friend class JsonConstraint;
  struct Node {
    int32_t children_begin = 0, children_end = 0;  // into nodes_, contiguous
    int32_t tokens_begin = 0, tokens_end = 0;      // into token_ids_: tokens ending here
    uint8_t byte = 0;
  };
  std::vector<std::string> bytes_;
  std::vector<Node> nodes_;  // nodes_[0]: the root
  std::vector<int32_t> token_ids_;
  std::vector<uint8_t> plain_text_;    // by id: whole characters of string text, no quote/backslash/control
  std::vector<int32_t> other_text_;    // the tokens with bytes that are not plain text
};

class JsonConstraint : public TokenConstraint {
 public:
  // `then`: the tokens that must follow the value, in order (e.g. the end-of-sequence token).
  JsonConstraint(std::shared_ptr<const JsonGrammar> grammar, std::shared_ptr<const TokenTrie> trie,
                 std::vector<int32_t> then);
  void mask(float* logits, int64_t n) override;
  void advance(int32_t token) override;
  // allowed[id] = 1 for the tokens allowed next (ids < the trie's vocab size).
  void allowed(std::vector<uint8_t>& allowed) const;

 private:
  void walk(const JsonMatcher& from, int32_t node, int depth, std::vector<uint8_t>& allowed) const;

  std::shared_ptr<const JsonGrammar> grammar_;
  std::shared_ptr<const TokenTrie> trie_;
  std::vector<int32_t> then_;
  JsonMatcher matcher_;
  size_t then_pos_ = 0;  // of `then` taken so far
  mutable std::vector<JsonMatcher> scratch_;  // one matcher per trie depth
  std::vector<uint8_t> allowed_;
};

}  // namespace dsv3
