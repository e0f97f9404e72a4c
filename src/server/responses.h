// The JSON bodies of the OpenAI API: whole responses, streamed chunks (server-sent events),
// usage and logprobs, for /v1/completions ("text_completion") and /v1/chat/completions
// ("chat.completion" / "chat.completion.chunk").
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "server/job.h"

namespace dsv3::server {

struct EchoedPrompt;  // echo.h

struct ResponseMeta {
  std::string id, model;
  int64_t created = 0;
  bool chat = false;
  std::shared_ptr<const EchoedPrompt> echo;  // completions with echo: true (echo.h)
};

// Accumulates one choice of a non-streamed response.
struct ChoiceResult {
  std::string text, reasoning;
  std::vector<ToolCallDelta> tool_calls;  // whole calls, by index
  bool called_tools = false;
  std::vector<int32_t> tokens;
  std::vector<LogprobEntry> logprobs;
  FinishReason finish = FinishReason::kNone;
};

// Adds an event to a choice of a whole response.
void accumulate(ChoiceResult& c, ChoiceEvent& ev);

json usage_json(int64_t prompt_tokens, int64_t completion_tokens);
json full_response(const ResponseMeta& m, const std::vector<ChoiceResult>& choices, bool want_logprobs,
                   int64_t prompt_tokens, int64_t completion_tokens);
// One streamed chunk for an event; `first` adds the assistant role to a chat delta.
json chunk_json(const ResponseMeta& m, const ChoiceEvent& ev, bool want_logprobs, bool first);
json usage_chunk(const ResponseMeta& m, int64_t prompt_tokens, int64_t completion_tokens);

// "data: <json>\n\n" (invalid UTF-8 replaced rather than thrown on).
std::string sse(const json& j);
std::string dump(const json& j);

}  // namespace dsv3::server
