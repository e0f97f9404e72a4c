#include "server/reasoning_parser.h"

#include "infer/stop_strings.h"

namespace dsv3::server {

namespace {
const std::string kOpen = "<think>", kClose = "</think>";
}

ReasoningParser::ReasoningParser(bool starts_in_reasoning)
    : state_(starts_in_reasoning ? State::kReasoningStart : State::kStart) {}

bool ReasoningParser::prompt_opens_reasoning(const std::string& prompt) {
  size_t end = prompt.size();
  while (end > 0 && prompt[end - 1] == '\n') --end;
  return end >= kOpen.size() && prompt.compare(end - kOpen.size(), kOpen.size(), kOpen) == 0;
}

ReasoningSplit ReasoningParser::push(const std::string& text) {
  ReasoningSplit out;
  buf_ += text;
  while (step(out, false)) {
  }
  return out;
}

ReasoningSplit ReasoningParser::finish() {
  ReasoningSplit out;
  while (step(out, true)) {
  }
  return out;
}

bool ReasoningParser::step(ReasoningSplit& out, bool at_end) {
  switch (state_) {
    case State::kStart:  // undecided until the output starts with <think> or cannot
      if (buf_.compare(0, kOpen.size(), kOpen) == 0) {
        buf_.erase(0, kOpen.size());
        state_ = State::kReasoningStart;
        return true;
      }
      if (!at_end && kOpen.compare(0, buf_.size(), buf_) == 0) return false;
      state_ = State::kAnswer;
      return true;
    case State::kReasoning: {
      if (!at_end && buf_.empty()) return false;
      const size_t at = buf_.find(kClose);
      if (at == std::string::npos) {
        const size_t hold = at_end ? 0 : partial_marker_length(buf_, {kClose});
        out.reasoning += buf_.substr(0, buf_.size() - hold);
        buf_.erase(0, buf_.size() - hold);
        return false;
      }
      out.reasoning += buf_.substr(0, at);
      buf_.erase(0, at + kClose.size());
      state_ = State::kAnswerStart;
      return true;
    }
    // The newlines after <think> and after </think> set the tags apart; they are neither
    // reasoning nor content.
    case State::kReasoningStart:
    case State::kAnswerStart: {
      const size_t text = buf_.find_first_not_of('\n');
      if (text == std::string::npos) {
        buf_.clear();
        return false;
      }
      buf_.erase(0, text);
      state_ = state_ == State::kReasoningStart ? State::kReasoning : State::kAnswer;
      return true;
    }
    case State::kAnswer:
      out.content += buf_;
      buf_.clear();
      return false;
  }
  return false;
}

}  // namespace dsv3::server
