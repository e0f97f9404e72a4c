// A byte-level pushdown matcher for the JSON a JsonGrammar allows. Its state is a small stack
// of frames (one per open value: object, array, string, number, literal), cheap to copy, so a
// token mask can try every token's bytes from the current state (token_constraint.h).
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

#include "infer/json_grammar.h"

namespace dsv3 {

// Well-formed UTF-8, one byte at a time (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF). `state` is 0 between characters.
struct Utf8Check {
  uint8_t pending = 0;          // continuation bytes still expected
  uint8_t lo = 0x80, hi = 0xBF;  // the range of the next one
  bool step(uint8_t b);         // false: not well-formed
};

class JsonMatcher {
 public:
  static constexpr int kMaxDepth = 32;  // nesting beyond this is not generated

  explicit JsonMatcher(const JsonGrammar& g);
  JsonMatcher(const JsonMatcher& o) { *this = o; }
  JsonMatcher& operator=(const JsonMatcher& o);  // copies only the used frames

  // Advances over byte b; false (state then unspecified) when the grammar does not allow it.
  bool step(uint8_t b);
  bool feed(std::string_view bytes);
  // A whole value has been matched (a number or literal at the top may still go on).
  bool accepting() const;
  // Inside a string's text, after a whole character: any plain text may follow.
  bool in_plain_string() const;

 private:
  enum Result { kConsumed, kDone, kEnded, kPushed, kRetry, kReject };
  struct Frame {
    int32_t node = 0;
    uint8_t phase = 0;
    Utf8Check utf8;       // strings: the character being read
    uint16_t pos = 0;     // literal / key byte position; the chosen key once read
    uint32_t count = 0;   // array items; object: the next property index; number bytes; a \u code unit
    uint64_t alive = 0;   // literals / keys still possible
  };
  Result on_byte(Frame& f, uint8_t b);
  Result string_byte(Frame& f, uint8_t b);
  Result number_byte(Frame& f, const GrammarNode& n, uint8_t b);
  Result literal_byte(Frame& f, const GrammarNode& n, uint8_t b);
  Result object_byte(Frame& f, const GrammarNode& n, uint8_t b);
  Result array_byte(Frame& f, const GrammarNode& n, uint8_t b);
  bool push(int32_t node, uint8_t phase = 0);
  bool complete(const Frame& f) const;  // a number or literal that may end here

  const JsonGrammar* g_;
  int depth_ = 0;
  std::array<Frame, kMaxDepth> stack_;
};

}  // namespace dsv3
