#include "infer/json_matcher.h"

#include <algorithm>
#include <bit>

namespace dsv3 {

namespace {

using Kind = GrammarNode::Kind;

// Phases of each frame kind.
// A \u escape of a high surrogate (D800-DBFF) must be followed by a \u escape of a low one
// (DC00-DFFF), and a low one may not stand alone (RFC 8259 section 7; JSON parsers reject both).
enum StringPhase : uint8_t { kOpenQuote, kText, kEscape, kUnicode, kLowBackslash, kLowU, kLowUnicode };
enum NumberPhase : uint8_t { kSign, kMinus, kZero, kDigits, kPoint, kFraction, kExpMark, kExpSign, kExponent };
enum ObjectPhase : uint8_t { kOpenBrace, kFirstKey, kKey, kColon, kAfterValue, kNextKey };
enum ArrayPhase : uint8_t { kOpenBracket, kFirstItem, kAfterItem, kNextItem };

// Keep a number from running on forever; integers stay exact as doubles (JavaScript clients).
constexpr uint32_t kMaxNumberBytes = 24, kMaxIntegerBytes = 16;

bool digit(uint8_t b) { return b >= '0' && b <= '9'; }
bool hex(uint8_t b) { return digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }
uint32_t hex_value(uint8_t b) { return digit(b) ? b - '0' : (b | 0x20) - 'a' + 10; }
bool high_surrogate(uint32_t u) { return u >= 0xD800 && u <= 0xDBFF; }
bool low_surrogate(uint32_t u) { return u >= 0xDC00 && u <= 0xDFFF; }

// Keys of an object that may come next: from `next` on, up to and including the first required.
uint64_t key_candidates(const GrammarNode& n, uint32_t next) {
  uint64_t m = 0;
  for (size_t j = next; j < n.keys.size(); ++j) {
    m |= uint64_t(1) << j;
    if (n.required[j]) break;
  }
  return m;
}

bool required_left(const GrammarNode& n, uint32_t next) {
  for (size_t j = next; j < n.keys.size(); ++j)
    if (n.required[j]) return true;
  return false;
}

}  // namespace

bool Utf8Check::step(uint8_t b) {
  if (pending > 0) {
    if (b < lo || b > hi) return false;
    --pending;
    lo = 0x80, hi = 0xBF;
    return true;
  }
  if (b < 0x80) return true;
  if (b >= 0xC2 && b <= 0xDF) pending = 1;
  else if (b >= 0xE0 && b <= 0xEF) pending = 2;
  else if (b >= 0xF0 && b <= 0xF4) pending = 3;
  else return false;
  if (b == 0xE0) lo = 0xA0;        // no overlong 3-byte forms
  else if (b == 0xED) hi = 0x9F;   // no surrogates
  else if (b == 0xF0) lo = 0x90;   // no overlong 4-byte forms
  else if (b == 0xF4) hi = 0x8F;   // nothing past U+10FFFF
  return true;
}

JsonMatcher::JsonMatcher(const JsonGrammar& g) : g_(&g) { push(g.root); }

JsonMatcher& JsonMatcher::operator=(const JsonMatcher& o) {
  g_ = o.g_;
  depth_ = o.depth_;
  std::copy_n(o.stack_.begin(), depth_, stack_.begin());
  return *this;
}

bool JsonMatcher::push(int32_t node, uint8_t phase) {
  if (depth_ == kMaxDepth) return false;
  Frame& f = stack_[size_t(depth_++)];
  f = Frame{};
  f.node = node;
  f.phase = phase;
  const GrammarNode& n = g_->nodes[size_t(node)];
  if (n.kind == Kind::kLiterals) f.alive = n.literals.size() >= 64 ? ~uint64_t(0) : (uint64_t(1) << n.literals.size()) - 1;
  return true;
}

bool JsonMatcher::feed(std::string_view bytes) {
  for (char c : bytes)
    if (!step(uint8_t(c))) return false;
  return true;
}

bool JsonMatcher::step(uint8_t b) {
  while (depth_ > 0) {
    switch (on_byte(stack_[size_t(depth_ - 1)], b)) {
      case kConsumed: return true;
      case kPushed: return true;
      case kDone: --depth_; return true;  // the value ended with this byte
      case kEnded: --depth_; break;        // it ended before: the byte is the parent's
      case kRetry: break;                   // the top frame changed: offer the byte again
      case kReject: return false;
    }
  }
  return false;  // the value is complete: nothing may follow
}

JsonMatcher::Result JsonMatcher::on_byte(Frame& f, uint8_t b) {
  const GrammarNode& n = g_->nodes[size_t(f.node)];
  switch (n.kind) {
    case Kind::kString: return string_byte(f, b);
    case Kind::kNumber:
    case Kind::kInteger: return number_byte(f, n, b);
    case Kind::kLiterals: return literal_byte(f, n, b);
    case Kind::kObject: return object_byte(f, n, b);
    case Kind::kArray: return array_byte(f, n, b);
    case Kind::kUnion: {
      const int32_t alt = n.by_first_byte[b];
      if (alt < 0) return kReject;
      const uint8_t phase = f.phase;
      --depth_;
      push(alt, phase);
      return kRetry;
    }
  }
  return kReject;
}

JsonMatcher::Result JsonMatcher::string_byte(Frame& f, uint8_t b) {
  switch (f.phase) {
    case kOpenQuote:
      if (b != '"') return kReject;
      f.phase = kText;
      return kConsumed;
    case kText:
      if (f.utf8.pending == 0) {
        if (b == '"') return kDone;
        if (b == '\\') {
          f.phase = kEscape;
          return kConsumed;
        }
        if (b < 0x20) return kReject;
      }
      return f.utf8.step(b) ? kConsumed : kReject;
    case kEscape:
      if (b == 'u') {
        f.phase = kUnicode;
        f.pos = 0;
        f.count = 0;
        return kConsumed;
      }
      for (char e : std::string_view("\"\\/bfnrt"))
        if (b == uint8_t(e)) {
          f.phase = kText;
          return kConsumed;
        }
      return kReject;
    case kUnicode:
    case kLowUnicode: {
      if (!hex(b)) return kReject;
      f.count = f.count * 16 + hex_value(b);  // the code unit read so far
      if (++f.pos < 4) return kConsumed;
      const bool low = low_surrogate(f.count);
      if (f.phase == kLowUnicode) {
        if (!low) return kReject;
        f.phase = kText;
      } else {
        if (low) return kReject;
        f.phase = high_surrogate(f.count) ? kLowBackslash : kText;
      }
      return kConsumed;
    }
    case kLowBackslash:
      if (b != '\\') return kReject;
      f.phase = kLowU;
      return kConsumed;
    case kLowU:
      if (b != 'u') return kReject;
      f.phase = kLowUnicode;
      f.pos = 0;
      f.count = 0;
      return kConsumed;
  }
  return kReject;
}

JsonMatcher::Result JsonMatcher::number_byte(Frame& f, const GrammarNode& n, uint8_t b) {
  const bool real = n.kind == Kind::kNumber;
  const auto to = [&](uint8_t phase) {
    if (++f.count > (real ? kMaxNumberBytes : kMaxIntegerBytes)) return kReject;
    f.phase = phase;
    return kConsumed;
  };
  // A number ends at the first byte that cannot continue it, which belongs to the parent.
  const Result end = complete(f) ? kEnded : kReject;
  switch (f.phase) {
    case kSign:
      if (b == '-') return to(kMinus);
      [[fallthrough]];
    case kMinus:
      if (b == '0') return to(kZero);
      if (digit(b)) return to(kDigits);
      return kReject;
    case kDigits:
      if (digit(b)) return to(kDigits);
      [[fallthrough]];
    case kZero:
      if (real && b == '.') return to(kPoint);
      if (real && (b == 'e' || b == 'E')) return to(kExpMark);
      return end;
    case kPoint:
      return digit(b) ? to(kFraction) : kReject;
    case kFraction:
      if (digit(b)) return to(kFraction);
      if (b == 'e' || b == 'E') return to(kExpMark);
      return end;
    case kExpMark:
      if (b == '+' || b == '-') return to(kExpSign);
      [[fallthrough]];
    case kExpSign:
      return digit(b) ? to(kExponent) : kReject;
    case kExponent:  // at most two digits: the value stays a finite double
      if (digit(b)) return ++f.pos < 2 ? to(kExponent) : kReject;
      return end;
  }
  return kReject;
}

JsonMatcher::Result JsonMatcher::literal_byte(Frame& f, const GrammarNode& n, uint8_t b) {
  uint64_t next = 0;
  bool any_longer = false;
  for (uint64_t m = f.alive; m; m &= m - 1) {
    const int i = std::countr_zero(m);
    const std::string& l = n.literals[size_t(i)];
    if (l.size() > f.pos && uint8_t(l[f.pos]) == b) {
      next |= uint64_t(1) << i;
      any_longer = any_longer || l.size() > size_t(f.pos) + 1;
    }
  }
  if (next == 0) return complete(f) ? kEnded : kReject;
  f.alive = next;
  ++f.pos;
  return any_longer ? kConsumed : kDone;
}

JsonMatcher::Result JsonMatcher::object_byte(Frame& f, const GrammarNode& n, uint8_t b) {
  switch (f.phase) {
    case kOpenBrace:
      if (b != '{') return kReject;
      f.phase = kFirstKey;
      return kConsumed;
    case kFirstKey:
      if (b == '}') return (!n.free_keys && required_left(n, f.count)) ? kReject : kDone;
      [[fallthrough]];
    case kNextKey:
      if (b != '"') return kReject;
      if (n.free_keys) {  // the key is a string of any text, its opening quote this byte
        f.phase = kColon;
        return push(n.free_key, kText) ? kPushed : kReject;
      }
      f.phase = kKey;
      f.alive = key_candidates(n, f.count);
      f.pos = 0;
      return f.alive ? kConsumed : kReject;
    case kKey: {
      if (b == '"') {
        for (uint64_t m = f.alive; m; m &= m - 1) {
          const int j = std::countr_zero(m);
          if (n.keys[size_t(j)].size() == f.pos) {
            f.pos = uint16_t(j);
            f.count = uint32_t(j) + 1;
            f.phase = kColon;
            return kConsumed;
          }
        }
        return kReject;
      }
      uint64_t next = 0;
      for (uint64_t m = f.alive; m; m &= m - 1) {
        const int j = std::countr_zero(m);
        const std::string& k = n.keys[size_t(j)];
        if (k.size() > f.pos && uint8_t(k[f.pos]) == b) next |= uint64_t(1) << j;
      }
      if (!next) return kReject;
      f.alive = next;
      ++f.pos;
      return kConsumed;
    }
    case kColon:
      if (b != ':') return kReject;
      f.phase = kAfterValue;
      return push(n.free_keys ? n.free_value : n.values[f.pos]) ? kPushed : kReject;
    case kAfterValue:
      if (b == ',') {
        if (!n.free_keys && key_candidates(n, f.count) == 0) return kReject;
        f.phase = kNextKey;
        return kConsumed;
      }
      if (b == '}') return (!n.free_keys && required_left(n, f.count)) ? kReject : kDone;
      return kReject;
  }
  return kReject;
}

JsonMatcher::Result JsonMatcher::array_byte(Frame& f, const GrammarNode& n, uint8_t b) {
  switch (f.phase) {
    case kOpenBracket:
      if (b != '[') return kReject;
      f.phase = kFirstItem;
      return kConsumed;
    case kFirstItem:
      if (b == ']') return n.min_items == 0 ? kDone : kReject;
      if (n.max_items == 0) return kReject;
      [[fallthrough]];
    case kNextItem:
      // The item's first byte: open the item and offer it the byte.
      ++f.count;
      f.phase = kAfterItem;
      return push(n.items) ? kRetry : kReject;
    case kAfterItem:
      if (b == ',') {
        if (n.max_items >= 0 && int64_t(f.count) >= n.max_items) return kReject;
        f.phase = kNextItem;
        return kConsumed;
      }
      if (b == ']') return int64_t(f.count) >= n.min_items ? kDone : kReject;
      return kReject;
  }
  return kReject;
}

bool JsonMatcher::complete(const Frame& f) const {
  const GrammarNode& n = g_->nodes[size_t(f.node)];
  if (n.kind == Kind::kLiterals) {
    for (uint64_t m = f.alive; m; m &= m - 1)
      if (n.literals[size_t(std::countr_zero(m))].size() == f.pos) return true;
    return false;
  }
  if (n.kind == Kind::kNumber || n.kind == Kind::kInteger)
    return f.phase == kZero || f.phase == kDigits || f.phase == kFraction || f.phase == kExponent;
  return false;
}

bool JsonMatcher::accepting() const { return depth_ == 0 || (depth_ == 1 && complete(stack_[0])); }

bool JsonMatcher::in_plain_string() const {
  if (depth_ == 0) return false;
  const Frame& f = stack_[size_t(depth_ - 1)];
  return g_->nodes[size_t(f.node)].kind == Kind::kString && f.phase == kText && f.utf8.pending == 0;
}

}  // namespace dsv3
