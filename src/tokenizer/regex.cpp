#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>

#include "core/error.h"

namespace dsv3 {

namespace {

// JavaScript's \s: WhiteSpace and LineTerminator of ECMA-262 (Zs, TAB, VT, FF, NBSP, ZWNBSP,
// LF, CR, LS, PS), written as the inside of a character class.
constexpr const char* kJsSpace = "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";
constexpr const char* kJsDot = "[^\\n\\r\\x{2028}\\x{2029}]";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

// \uXXXX or \u{X...} at p[i] == 'u'; appends \x{...} and returns the index after it.
size_t translate_u_escape(const std::string& p, size_t i, std::string& out, const std::string& what) {
  size_t j = i + 1;
  std::string hex;
  if (j < p.size() && p[j] == '{') {
    const size_t close = p.find('}', j);
    if (close == std::string::npos) fail(what, ": unterminated \\u{...} escape");
    hex = p.substr(j + 1, close - j - 1);
    j = close + 1;
  } else {
    hex = p.substr(j, 4);
    j += 4;
  }
  if (hex.empty() || hex.size() > 6 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    fail(what, ": bad \\u escape in pattern");
  out += "\\x{" + hex + "}";
  return j;
}

// Per-thread match state: PCRE2 match data and JIT stack are not shareable between threads.
struct MatchScratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  MatchScratch() {
    if (!data || !context || !stack) throw std::bad_alloc();
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

std::string regex_to_pcre2(const std::string& p, const std::string& what) {
  std::string out;
  out.reserve(p.size() * 2);
  bool in_class = false;
  for (size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) fail(what, ": pattern ends with a backslash");
      const char e = p[i + 1];
      if (e == 's') {
        out += in_class ? std::string(kJsSpace) : cat("[", kJsSpace, "]");
      } else if (e == 'S') {
        if (in_class) fail(what, ": \\S inside a character class is not supported");
        out += cat("[^", kJsSpace, "]");
      } else if (e == 'u') {
        i = translate_u_escape(p, i + 1, out, what);
        continue;
      } else {
        out += c;
        out += e;
      }
      i += 2;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      ++i;
      continue;
    }
    if (c == '[') {
      // JavaScript has no POSIX classes and no nested sets; `[]` would mean "nothing" there.
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') fail(what, ": empty character class [] is not supported");
      in_class = true;
      out.append(p, i, j - i);
      i = j;
      continue;
    }
    if (c == '.') {
      out += kJsDot;
    } else {
      out += c;
    }
    ++i;
  }
  if (in_class) fail(what, ": unterminated character class");
  return out;
}

Regex::Regex(const std::string& pattern, const std::string& what) : pattern_(pattern), what_(what) {
  const std::string translated = regex_to_pcre2(pattern, what);
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C, &err, &offset, nullptr);
  if (!code) fail(what, ": PCRE2 cannot compile pattern '", pattern, "': ", pcre2_message(err));
  code_ = code;
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

Regex::Regex(Regex&& o) noexcept : pattern_(std::move(o.pattern_)), what_(std::move(o.what_)), code_(o.code_), jit_(o.jit_) {
  o.code_ = nullptr;
}

bool Regex::next_match(std::string_view subject, size_t pos, size_t& begin, size_t& end) const {
  MatchScratch& s = scratch();
  auto* code = static_cast<pcre2_code*>(code_);
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  int rc = jit_ ? pcre2_jit_match(code, subj, subject.size(), pos, 0, s.data, s.context)
                : pcre2_match(code, subj, subject.size(), pos, PCRE2_NO_UTF_CHECK, s.data, s.context);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // the interpreter keeps its backtracking state on the heap
    rc = pcre2_match(code, subj, subject.size(), pos, PCRE2_NO_UTF_CHECK, s.data, s.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) fail(what_, ": matching failed: ", pcre2_message(rc));
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
  begin = ov[0];
  end = ov[1] < ov[0] ? ov[0] : ov[1];  // \K could put the end first
  return true;
}

bool Regex::search(std::string_view subject, size_t pos, std::vector<std::pair<size_t, size_t>>& groups) const {
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code, nullptr);
  if (!data) fail(what_, ": out of memory for a match");
  const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), pos, 0, data, nullptr);
  groups.clear();
  if (rc > 0) {
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
    for (uint32_t i = 0; i < pcre2_get_ovector_count(data); ++i) {
      const bool set = i < uint32_t(rc) && ov[2 * i] != PCRE2_UNSET;
      groups.emplace_back(set ? ov[2 * i] : std::string_view::npos, set ? ov[2 * i + 1] : std::string_view::npos);
    }
  }
  pcre2_match_data_free(data);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) fail(what_, ": matching failed: ", pcre2_message(rc));
  return true;
}

}  // namespace dsv3
