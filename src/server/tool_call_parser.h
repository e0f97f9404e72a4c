// Turns the model's DeepSeek-V3 tool-call span (chat_template_tools.h) into OpenAI tool calls,
// incrementally as text arrives. Text outside the span is content.
//
// Two modes:
//   stream: a call is announced (index, id, name) as soon as its header is complete and its
//           arguments follow as deltas, as OpenAI streams them; text that breaks the format
//           after that is returned as content from the point where it broke.
//   whole:  the span is held until it has ended and every call's arguments parse as JSON; a
//           malformed or unfinished span is returned as text, whole, with no calls.
// A span may end with <｜tool▁calls▁end｜> or, as the V3 template writes a lone call, with the
// end of the output right after <｜tool▁call▁end｜>.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace dsv3::server {

// One piece of a call: `name` and `id` are set on a call's first piece only.
struct ToolCallDelta {
  int64_t index = 0;
  std::string id, name, arguments;
};

struct ToolParse {
  std::string content;
  std::vector<ToolCallDelta> calls;
};

class ToolCallParser {
 public:
  // `prefilled`: what the assistant turn was forced to begin with (forced_call_prefix), parsed
  // as if the model had written it.
  ToolCallParser(bool stream, const std::string& prefilled);
  ToolParse push(const std::string& text);
  ToolParse finish();  // the end of the output
  bool called() const { return called_; }  // some call was returned: finish_reason "tool_calls"

 private:
  enum class State { kText, kCallOrEnd, kHeader, kArguments, kAfter };
  bool step(ToolParse& out, bool at_end);  // one transition; false when it needs more text
  void consume(size_t n);                  // moves n bytes of buf_ into the span's raw text
  void malformed(ToolParse& out);
  void end_span(ToolParse& out);
  void emit(ToolParse& out, ToolCallDelta d);
  std::string new_call_id();

  bool stream_;
  State state_ = State::kText;
  std::string buf_;          // text not yet consumed
  std::string raw_;          // the span's text not yet returned as calls (whole: the whole span)
  std::vector<ToolCallDelta> held_;  // whole mode: complete calls waiting for the span's end
  ToolParse first_;          // what the prefill produced, returned with the first push
  int64_t index_ = 0;        // of the call being parsed
  bool called_ = false;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace dsv3::server
