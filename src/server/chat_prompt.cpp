#include "server/chat_prompt.h"

#include "server/reasoning_parser.h"
#include "tokenizer/chat_template_tools.h"

namespace dsv3::server {

ChatPrompt chat_prompt(const CompletionRequest& r) {
  ChatPrompt p{r.messages, r.assistant_prefix};
  if (r.tool_choice == ToolChoice::kNone) return p;
  // The template joins every system message, in order, at the start of the prompt.
  p.messages.push_back({{"role", "system"}, {"content", deepseek_tools::tools_system_prompt(r.tools)}});
  if (r.tool_choice == ToolChoice::kNamed) p.prefill = deepseek_tools::forced_call_prefix(r.tool_name);
  else if (r.tool_choice == ToolChoice::kRequired)
    p.prefill = deepseek_tools::forced_call_prefix(r.tools.size() == 1 ? r.tools[0]["name"].get<std::string>() : "");
  return p;
}

ChatOutput chat_output(const CompletionRequest& r, const ChatPrompt& p, const std::string& rendered,
                       bool split_reasoning) {
  ChatOutput o;
  o.tool_calls = r.tool_choice != ToolChoice::kNone;
  const bool forced_call = r.tool_choice == ToolChoice::kNamed || r.tool_choice == ToolChoice::kRequired;
  if (forced_call) o.prefill = p.prefill;
  o.reasoning = split_reasoning && r.separate_reasoning && !forced_call;
  o.reasoning_prefilled = o.reasoning && ReasoningParser::prompt_opens_reasoning(rendered);
  return o;
}

}  // namespace dsv3::server
