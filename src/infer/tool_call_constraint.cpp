#include "infer/tool_call_constraint.h"

#include <limits>

#include "core/error.h"

namespace dsv3 {

ToolCallConstraint::ToolCallConstraint(std::vector<ToolCallChoice> choices, std::shared_ptr<const TokenTrie> trie,
                                       std::vector<int32_t> then)
    : choices_(std::move(choices)), trie_(std::move(trie)), then_(std::move(then)) {
  if (choices_.empty()) fail("a tool call constraint needs at least one function");
  for (const auto& a : choices_) {
    if (a.head.empty() || !a.arguments) fail("a tool call choice needs a head and an arguments grammar");
    for (const auto& b : choices_)
      if (&a != &b && b.head.compare(0, a.head.size(), a.head) == 0)
        fail("the tool call head '", a.head, "' is a prefix of '", b.head, "' (two functions of one name?)");
  }
}

bool ToolCallConstraint::continues(const std::string& b) const {
  const size_t at = head_.size();
  for (const auto& c : choices_)
    if (c.head.size() >= at + b.size() && c.head.compare(0, at, head_) == 0 && c.head.compare(at, b.size(), b) == 0)
      return true;
  return false;
}

void ToolCallConstraint::allowed(std::vector<uint8_t>& allowed) const {
  if (arguments_) return arguments_->allowed(allowed);
  allowed.assign(size_t(trie_->vocab_size()), 0);
  for (int32_t id = 0; id < trie_->vocab_size(); ++id)
    if (!trie_->bytes(id).empty() && continues(trie_->bytes(id))) allowed[size_t(id)] = 1;
}

void ToolCallConstraint::mask(float* logits, int64_t n) {
  allowed(allowed_);
  const int64_t V = int64_t(allowed_.size());
  for (int64_t i = 0; i < n; ++i)
    if (i >= V || !allowed_[size_t(i)]) logits[i] = -std::numeric_limits<float>::infinity();
}

void ToolCallConstraint::advance(int32_t token) {
  if (arguments_) return arguments_->advance(token);
  // The mask allows nothing else; a token it refused is not taken into the head.
  if (token < 0 || token >= trie_->vocab_size() || trie_->bytes(token).empty() || !continues(trie_->bytes(token)))
    return;
  head_ += trie_->bytes(token);
  for (const auto& c : choices_)
    if (c.head == head_) arguments_ = std::make_unique<JsonConstraint>(c.arguments, trie_, then_);
}

}  // namespace dsv3
