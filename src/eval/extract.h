// Answer extraction for generation tasks: the part of a model's output that is compared with
// the reference answer.
//   last_number  the last number in the output ("-1,234.50" -> "-1234.5"), as GSM8K graders do;
//   boxed        the contents of the last \boxed{...} (braces balanced), as MATH graders do;
//   regex:PAT    the first match of PAT (PCRE2 syntax, JavaScript meaning of \s \d \w), its
//                first capture group when it has one;
//   exact        the whole output.
// Both sides are then normalised (normalize_answer) and compared for equality.
#pragma once
#include <memory>
#include <optional>
#include <string>

namespace dsv3 {
class Regex;
}

namespace dsv3::eval {

class Extractor {
 public:
  // "last_number", "boxed", "exact" or "regex:PATTERN"; throws Error naming the rule otherwise.
  explicit Extractor(const std::string& rule);
  ~Extractor();
  Extractor(Extractor&&) noexcept;

  // The answer in `output`; nullopt when the rule finds none (scored as wrong).
  std::optional<std::string> extract(const std::string& output) const;
  const std::string& rule() const { return rule_; }

 private:
  std::string rule_;
  std::unique_ptr<Regex> regex_;
};

std::optional<std::string> last_number(const std::string& s);
std::optional<std::string> last_boxed(const std::string& s);

// Whitespace trimmed and runs of it collapsed to one space; a number (optionally with $,
// thousands commas, trailing zeros after the point) in one canonical form: "$1,000.50" ->
// "1000.5", "3.0" -> "3", "+7" -> "7".
std::string normalize_answer(const std::string& s);

// The reference answer of a task line as the graders of the usual files read it: the text
// after the last "####" (GSM8K), else the last \boxed{} (MATH solutions), else all of it.
std::string reference_answer(const std::string& answer_field);

}  // namespace dsv3::eval
