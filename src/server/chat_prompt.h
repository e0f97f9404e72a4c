// How a chat request becomes the text of its prompt, and how its output is to be read back:
// the tool definitions join the system prompt (DeepSeek-V3's template has no place for them),
// tool_choice "required" or a named function pre-fills the assistant turn with the opening of a
// tool-call span, and a prompt ending in <think> means the output starts inside the reasoning.
#pragma once
#include <string>

#include "io/json_file.h"
#include "server/request.h"

namespace dsv3::server {

// How a choice's text is split into content, reasoning and tool calls.
struct ChatOutput {
  bool tool_calls = false;        // parse DeepSeek tool-call spans
  std::string prefill;            // the forced start of a tool-call span (already in the prompt)
  bool reasoning = false;         // split <think>…</think> into reasoning_content
  bool reasoning_prefilled = false;  // the prompt opened <think>
};

struct ChatPrompt {
  json messages;  // for the chat template
  std::string prefill;  // appended to the rendered prompt: an assistant prefix or a forced call's opening
};

ChatPrompt chat_prompt(const CompletionRequest& r);

// `rendered`: the prompt's text, prefill included. `split_reasoning`: the server's setting.
ChatOutput chat_output(const CompletionRequest& r, const ChatPrompt& p, const std::string& rendered,
                       bool split_reasoning);

}  // namespace dsv3::server
