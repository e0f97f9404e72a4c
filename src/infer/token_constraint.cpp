#include "infer/token_constraint.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace dsv3 {

namespace {

// Whole UTF-8 characters of string text that need no escape: such a token leaves a string's
// text in the same state, whatever came before.
bool plain_text(const std::string& s) {
  Utf8Check u;
  for (unsigned char b : s)
    if ((u.pending == 0 && (b == '"' || b == '\\' || b < 0x20)) || !u.step(b)) return false;
  return u.pending == 0;
}

}  // namespace

TokenTrie::TokenTrie(const std::vector<std::string>& token_bytes) : bytes_(token_bytes) {
  const size_t V = bytes_.size();
  plain_text_.assign(V, 0);
  std::vector<int32_t> order;
  for (size_t id = 0; id < V; ++id) {
    if (bytes_[id].empty()) continue;
    order.push_back(int32_t(id));
    if (plain_text(bytes_[id])) plain_text_[id] = 1;
    else other_text_.push_back(int32_t(id));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return bytes_[size_t(a)] < bytes_[size_t(b)]; });
  // Breadth of each level first, so a node's children sit next to each other.
  struct Range {
    int32_t node;
    size_t lo, hi, depth;  // order[lo, hi) share their first `depth` bytes
  };
  nodes_.push_back({});
  std::vector<Range> todo = {{0, 0, order.size(), 0}};
  while (!todo.empty()) {
    const Range r = todo.back();
    todo.pop_back();
    size_t i = r.lo;
    nodes_[size_t(r.node)].tokens_begin = int32_t(token_ids_.size());
    while (i < r.hi && bytes_[size_t(order[i])].size() == r.depth) token_ids_.push_back(order[i++]);
    nodes_[size_t(r.node)].tokens_end = int32_t(token_ids_.size());
    nodes_[size_t(r.node)].children_begin = int32_t(nodes_.size());
    std::vector<Range> children;
    while (i < r.hi) {
      const char b = bytes_[size_t(order[i])][r.depth];
      size_t j = i;
      while (j < r.hi && bytes_[size_t(order[j])][r.depth] == b) ++j;
      Node child;
      child.byte = uint8_t(b);
      nodes_.push_back(child);
      children.push_back({int32_t(nodes_.size() - 1), i, j, r.depth + 1});
      i = j;
    }
    nodes_[size_t(r.node)].children_end = int32_t(nodes_.size());
    todo.insert(todo.end(), children.begin(), children.end());
  }
}

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonGrammar> grammar, std::shared_ptr<const TokenTrie> trie,
                               std::vector<int32_t> then)
    : grammar_(std::move(grammar)), trie_(std::move(trie)), then_(std::move(then)), matcher_(*grammar_) {
  size_t longest = 0;
  for (const auto& b : trie_->bytes_) longest = std::max(longest, b.size());
  scratch_.assign(longest + 1, matcher_);
}

void JsonConstraint::walk(const JsonMatcher& from, int32_t node, int depth, std::vector<uint8_t>& allowed) const {
  const TokenTrie::Node& n = trie_->nodes_[size_t(node)];
  for (int32_t c = n.children_begin; c < n.children_end; ++c) {
    const TokenTrie::Node& child = trie_->nodes_[size_t(c)];
    JsonMatcher& m = scratch_[size_t(depth)];
    m = from;
    if (!m.step(child.byte)) continue;  // no token below this prefix can be allowed
    for (int32_t t = child.tokens_begin; t < child.tokens_end; ++t) allowed[size_t(trie_->token_ids_[size_t(t)])] = 1;
    if (child.children_begin < child.children_end) walk(m, c, depth + 1, allowed);
  }
}

void JsonConstraint::allowed(std::vector<uint8_t>& allowed) const {
  allowed.assign(size_t(trie_->vocab_size()), 0);
  const auto allow = [&](int32_t id) {
    if (id >= 0 && size_t(id) < allowed.size()) allowed[size_t(id)] = 1;
  };
  if (then_pos_ > 0) {  // the value is done: the fixed tokens follow one by one
    allow(then_[std::min(then_pos_, then_.size() - 1)]);
    return;
  }
  if (matcher_.accepting() && !then_.empty()) allow(then_[0]);
  if (matcher_.in_plain_string()) {
    std::transform(allowed.begin(), allowed.end(), trie_->plain_text_.begin(), allowed.begin(),
                   [](uint8_t a, uint8_t p) { return uint8_t(a | p); });
    JsonMatcher& m = scratch_[0];
    for (int32_t id : trie_->other_text_) {
      m = matcher_;
      if (m.feed(trie_->bytes(id))) allowed[size_t(id)] = 1;
    }
    return;
  }
  walk(matcher_, 0, 0, allowed);
}

void JsonConstraint::mask(float* logits, int64_t n) {
  allowed(allowed_);
  const int64_t V = int64_t(allowed_.size());
  for (int64_t i = 0; i < n; ++i)
    if (i >= V || !allowed_[size_t(i)]) logits[i] = -std::numeric_limits<float>::infinity();
}

void JsonConstraint::advance(int32_t token) {
  if (then_pos_ > 0) {
    ++then_pos_;
    return;
  }
  if (token >= 0 && token < trie_->vocab_size() && !trie_->bytes(token).empty()) {
    JsonMatcher m = matcher_;
    if (m.feed(trie_->bytes(token))) {
      matcher_ = m;
      return;
    }
  }
  then_pos_ = 1;  // the first of the fixed tokens (the mask allowed nothing else)
}

}  // namespace dsv3
