// A pre-tokenizer regex, compiled by PCRE2 (UTF mode, JIT when available) and matched with the
// semantics of the reference implementation, which runs the pattern as a JavaScript RegExp with
// the "gu" flags:
//   - \s and \S mean JavaScript's whitespace set (it has U+FEFF and lacks U+0085, unlike
//     PCRE2's and Rust's Unicode \s), so they are rewritten into explicit classes;
//   - \d, \w and \b stay ASCII, as in JavaScript: that is why PCRE2_UCP is not set
//     (\p{...} classes are Unicode-aware in UTF mode without it);
//   - `.` excludes the four JavaScript line terminators and `$` matches only at the end;
//   - an empty match is dropped and the search resumes one code point later (matchAll).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dsv3 {

class Regex {
 public:
  // `pattern` as written in tokenizer.json; `what` names it in errors.
  Regex(const std::string& pattern, const std::string& what);
  ~Regex();
  Regex(Regex&& o) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  Regex& operator=(Regex&&) = delete;

  // Calls on_match(begin, end) for every non-empty match in `subject`, left to right.
  // `subject` must be valid UTF-8 (checked once by the caller, not here).
  template <typename F>
  void for_each_match(std::string_view subject, F&& on_match) const {
    size_t pos = 0, begin = 0, end = 0;
    while (pos <= subject.size() && next_match(subject, pos, begin, end)) {
      if (end > begin) {
        on_match(begin, end);
        pos = end;
      } else {
        pos = begin + 1;
        while (pos < subject.size() && (uint8_t(subject[pos]) & 0xC0) == 0x80) ++pos;
      }
    }
  }

  const std::string& pattern() const { return pattern_; }

  // The first match starting at or after `pos` with its capture groups (answer extraction in
  // src/eval): groups[0] is the whole match, groups[i] the i-th group, {npos, npos} for a group
  // that took no part. False when there is no match. `subject` must be valid UTF-8.
  bool search(std::string_view subject, size_t pos, std::vector<std::pair<size_t, size_t>>& groups) const;

 private:
  // The first match starting at or after `pos`; false when there is none.
  bool next_match(std::string_view subject, size_t pos, size_t& begin, size_t& end) const;

  std::string pattern_, what_;
  void* code_ = nullptr;  // pcre2_code_8*, kept out of the header
  bool jit_ = false;
};

// The pattern rewritten for PCRE2 with JavaScript meaning (exposed for tests).
std::string regex_to_pcre2(const std::string& pattern, const std::string& what);

}  // namespace dsv3
