// One API request in flight. Its n choices run as n sequences of the Batcher; the scheduler
// thread turns their tokens into text (decoder, stop strings) through the callbacks bound
// here, and the HTTP thread that owns the connection takes the resulting events.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "infer/batcher.h"
#include "infer/stop_strings.h"
#include "infer/tool_call_constraint.h"
#include "server/chat_prompt.h"
#include "server/reasoning_parser.h"
#include "server/request.h"
#include "server/text_codec.h"
#include "server/tool_call_parser.h"

namespace dsv3::server {

struct LogprobEntry {
  std::string token;
  float logprob = 0.0f;
  std::vector<std::pair<std::string, float>> top;
};

// A piece of one choice's output: text released by this token (possibly empty while a stop
// string may be forming), the token, its logprobs; the last event of a choice has a finish.
struct ChoiceEvent {
  int64_t index = 0;
  std::string text;                     // content
  std::string reasoning;                // chat: reasoning_content
  std::vector<ToolCallDelta> tool_calls;  // chat: pieces of tool calls
  bool called_tools = false;            // on the last event: the choice ended in tool calls
  std::vector<int32_t> tokens;
  std::vector<LogprobEntry> logprobs;
  FinishReason finish = FinishReason::kNone;
};

// The form every choice's output must take (constrained decoding), when there is one.
struct OutputConstraint {
  std::shared_ptr<const JsonGrammar> grammar;  // null: free output
  std::shared_ptr<const TokenTrie> trie;
  std::vector<int32_t> then;  // the tokens after the JSON value (end of sequence, a tool call's closing)
  // A call to one of several functions instead (tool_choice "required"): the name, then the
  // arguments of the function named, then `then`.
  std::vector<ToolCallChoice> tool_calls;
  bool any() const { return grammar || !tool_calls.empty(); }
};

class Job {
 public:
  Job(const CompletionRequest& req, std::vector<int32_t> prompt, const TextCodec& codec,
      std::function<bool(int32_t)> is_eos, ChatOutput output = {}, OutputConstraint constraint = {});

  const CompletionRequest& request() const { return req_; }
  int64_t prompt_tokens() const { return int64_t(prompt_.size()); }
  int64_t n() const { return req_.n; }

  // The Batcher requests of the choices, with callbacks into this job (scheduler thread).
  std::vector<SequenceRequest> sequence_requests();

  // Consumer side: waits up to `timeout` for events; false once every choice has finished and
  // every event was taken.
  bool next(std::vector<ChoiceEvent>& out, std::chrono::milliseconds timeout);
  bool finished() const;
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  void fail(const std::string& message);  // the scheduler could not run it
  std::string error() const;
  int64_t completion_tokens() const;
  SequenceStats stats() const;  // summed over choices

 private:
  struct Choice {
    std::unique_ptr<TextStream> decoder;
    StopMatcher stop;
    std::unique_ptr<ReasoningParser> reasoning;
    std::unique_ptr<ToolCallParser> tools;
    int64_t tokens = 0;
    bool done = false;
  };
  bool on_token(int64_t i, const TokenEvent& ev);
  void on_finish(int64_t i, FinishReason why, const SequenceStats& st);
  void push(ChoiceEvent ev);
  // Content released by the stop matcher, split into reasoning, content and tool calls.
  void route(Choice& c, const std::string& text, bool at_end, ChoiceEvent& e);

  CompletionRequest req_;
  std::vector<int32_t> prompt_;
  const TextCodec& codec_;
  ChatOutput output_;
  OutputConstraint constraint_;
  std::function<bool(int32_t)> is_eos_;
  std::vector<Choice> choices_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChoiceEvent> events_;
  int64_t done_ = 0;
  SequenceStats stats_;
  std::string error_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace dsv3::server
