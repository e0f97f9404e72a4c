#include "eval/extract.h"

#include <cctype>
#include <vector>

#include "core/error.h"
#include "tokenizer/regex.h"

namespace dsv3::eval {

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// "-1,234.500" -> "-1234.5"; s is [sign] digits-and-commas [. digits], already matched.
std::string canonical_number(std::string s) {
  std::string t;
  for (char c : s)
    if (c != ',') t += c;
  if (!t.empty() && t[0] == '+') t.erase(0, 1);
  if (t.find('.') != std::string::npos) {
    while (t.back() == '0') t.pop_back();
    if (t.back() == '.') t.pop_back();
  }
  const bool neg = !t.empty() && t[0] == '-';
  size_t i = neg;  // leading zeros of the integer part, keeping one digit
  while (i + 1 < t.size() && t[i] == '0' && digit(t[i + 1])) t.erase(i, 1);
  if (t.empty() || t == "-" || t == "-0") return t == "-" ? t : "0";
  if (t[neg] == '.') t = t.substr(0, size_t(neg)) + "0" + t.substr(size_t(neg));
  return t;
}

// Whether all of s is one number: [+-] [$] digits with thousands commas [. digits].
bool is_number(const std::string& s, std::string& canonical) {
  size_t i = 0;
  std::string sign;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++];
  if (i < s.size() && s[i] == '$') ++i;
  const size_t start = i;
  while (i < s.size() && (digit(s[i]) || (s[i] == ',' && i > start && i + 1 < s.size() && digit(s[i + 1])))) ++i;
  bool any = i > start;
  if (i < s.size() && s[i] == '.') {
    const size_t f = ++i;
    while (i < s.size() && digit(s[i])) ++i;
    any = any || i > f;
  }
  if (!any || i != s.size()) return false;
  canonical = canonical_number(sign + s.substr(start));
  return true;
}

}  // namespace

std::optional<std::string> last_number(const std::string& s) {
  // Numbers, left to right: [-] digits (',' digits)* ['.' digits]; a ',' or '.' that is not
  // followed by a digit ends the number ("is 42." gives 42).
  std::optional<std::string> last;
  for (size_t i = 0; i < s.size();) {
    if (!digit(s[i])) {
      ++i;
      continue;
    }
    const bool neg = i > 0 && s[i - 1] == '-';
    const size_t b = i;
    bool point = false;
    while (i < s.size() && (digit(s[i]) || ((s[i] == ',' || s[i] == '.') && !point && i + 1 < s.size() && digit(s[i + 1])))) {
      point = point || s[i] == '.';
      ++i;
    }
    std::string num = neg ? "-" : "";
    num += s.substr(b, i - b);
    last = canonical_number(num);
  }
  return last;
}

std::optional<std::string> last_boxed(const std::string& s) {
  const size_t at = s.rfind("\\boxed{");
  if (at == std::string::npos) return std::nullopt;
  int depth = 1;
  const size_t begin = at + 7;
  for (size_t i = begin; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return trim(s.substr(begin, i - begin));
  }
  return std::nullopt;  // unbalanced: no answer
}

std::string normalize_answer(const std::string& s) {
  std::string out;
  for (char c : trim(s)) {
    const bool space = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (space && !out.empty() && out.back() == ' ') continue;
    out += space ? ' ' : c;
  }
  std::string num;
  return is_number(out, num) ? num : out;
}

std::string reference_answer(const std::string& a) {
  const size_t hashes = a.rfind("####");
  if (hashes != std::string::npos) return trim(a.substr(hashes + 4));
  if (auto boxed = last_boxed(a)) return *boxed;
  return trim(a);
}

Extractor::Extractor(const std::string& rule) : rule_(rule) {
  if (rule.rfind("regex:", 0) == 0) {
    if (rule.size() == 6) fail("answer rule 'regex:' needs a pattern");
    regex_ = std::make_unique<Regex>(rule.substr(6), "answer rule " + rule);
  } else if (rule != "last_number" && rule != "boxed" && rule != "exact") {
    fail("unknown answer rule '", rule, "' (last_number, boxed, exact or regex:PATTERN)");
  }
}

Extractor::~Extractor() = default;
Extractor::Extractor(Extractor&&) noexcept = default;

std::optional<std::string> Extractor::extract(const std::string& out) const {
  if (rule_ == "last_number") return last_number(out);
  if (rule_ == "boxed") return last_boxed(out);
  if (rule_ == "exact") return trim(out);
  std::vector<std::pair<size_t, size_t>> g;
  if (!regex_->search(out, 0, g)) return std::nullopt;
  const auto& pick = g.size() > 1 && g[1].first != std::string::npos ? g[1] : g[0];
  return out.substr(pick.first, pick.second - pick.first);
}

}  // namespace dsv3::eval
