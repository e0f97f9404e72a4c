// Splits R1-style output into reasoning and answer: the model reasons inside <think>…</think>
// and answers after it. The reasoning goes to message.reasoning_content (delta.reasoning_content
// when streamed), the rest to content. Templates of R1 models pre-fill "<think>\n" after the
// assistant tag, so their output holds only the closing tag: the parser is then told that the
// output starts inside the reasoning. Output that does not start with <think> (and was not
// pre-filled) is all content.
#pragma once
#include <string>

namespace dsv3::server {

struct ReasoningSplit {
  std::string reasoning, content;
};

class ReasoningParser {
 public:
  explicit ReasoningParser(bool starts_in_reasoning);
  ReasoningSplit push(const std::string& text);
  ReasoningSplit finish();  // the end of the output: what was held back

  // Whether a rendered prompt ends with the opening tag (possibly followed by a newline).
  static bool prompt_opens_reasoning(const std::string& prompt);

 private:
  enum class State { kStart, kReasoningStart, kReasoning, kAnswerStart, kAnswer };
  bool step(ReasoningSplit& out, bool at_end);
  State state_;
  std::string buf_;
};

}  // namespace dsv3::server
