#include "tokenizer/added_tokens.h"

namespace dsv3 {

namespace {

// ECMA-262 WhiteSpace and LineTerminator code points: what trim() removes and \s matches.
bool is_js_space(uint32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// Decodes the (valid UTF-8) character starting at s[i]; sets len.
uint32_t decode_at(std::string_view s, size_t i, size_t& len) {
  const auto b = uint8_t(s[i]);
  if (b < 0x80) return len = 1, b;
  len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
  if (i + len > s.size()) return len = 1, 0xFFFD;
  uint32_t cp = b & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3F);
  return cp;
}

}  // namespace

size_t js_leading_space(std::string_view s) {
  size_t i = 0, len = 0;
  while (i < s.size() && is_js_space(decode_at(s, i, len))) i += len;
  return i;
}

size_t js_trailing_space(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (uint8_t(s[start]) & 0xC0) == 0x80) --start;
    size_t len = 0;
    if (!is_js_space(decode_at(s, start, len))) break;
    end = start;
  }
  return s.size() - end;
}

AddedTokens::AddedTokens(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  terminal_.push_back(0);
  for (size_t t = 0; t < tokens_.size(); ++t) {
    const std::string& c = tokens_[t].content;
    by_id_[tokens_[t].id] = t;
    if (c.empty()) continue;
    by_content_[c] = t;
    first_bytes_.set(uint8_t(c[0]));
    uint32_t node = 0;
    for (const char ch : c) {
      const uint64_t key = (uint64_t(node) << 8) | uint8_t(ch);
      auto it = children_.find(key);
      if (it == children_.end()) {
        it = children_.emplace(key, uint32_t(terminal_.size())).first;
        terminal_.push_back(0);
      }
      node = it->second;
    }
    terminal_[node] = uint32_t(t + 1);  // a duplicate content keeps the last, as the reference's trie does
  }
}

size_t AddedTokens::match_at(std::string_view text, size_t pos, size_t& index) const {
  size_t best = 0;
  uint32_t node = 0;
  for (size_t j = pos; j < text.size(); ++j) {
    const auto it = children_.find((uint64_t(node) << 8) | uint8_t(text[j]));
    if (it == children_.end()) break;
    node = it->second;
    if (terminal_[node]) best = j + 1 - pos, index = terminal_[node] - 1;
  }
  return best;
}

void AddedTokens::split(std::string_view text, std::vector<Section>& out) const {
  const size_t first = out.size();
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    size_t index = 0, len = 0;
    if (first_bytes_.test(uint8_t(text[i]))) len = match_at(text, i, index);
    if (len == 0) {
      ++i;
      continue;
    }
    if (i > start) out.push_back({text.substr(start, i - start), -1});
    out.push_back({text.substr(i, len), int32_t(index)});
    i += len;
    start = i;
  }
  if (start < text.size()) out.push_back({text.substr(start), -1});
  // lstrip / rstrip eat the whitespace of the neighbouring text sections.
  for (size_t s = first; s < out.size(); ++s) {
    if (out[s].token < 0) continue;
    const AddedToken& t = tokens_[size_t(out[s].token)];
    if (t.lstrip && s > first && out[s - 1].token < 0) {
      std::string_view& prev = out[s - 1].text;
      prev.remove_suffix(js_trailing_space(prev));
    }
    if (t.rstrip && s + 1 < out.size() && out[s + 1].token < 0) {
      std::string_view& next = out[s + 1].text;
      next.remove_prefix(js_leading_space(next));
    }
  }
  for (size_t s = first; s < out.size(); ++s) out[s].token = out[s].token < 0 ? -1 : tokens_[size_t(out[s].token)].id;
  std::erase_if(out, [](const Section& x) { return x.token < 0 && x.text.empty(); });
}

const AddedToken* AddedTokens::find_content(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedTokens::find_id(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace dsv3
