// The body of POST /v1/completions and /v1/chat/completions, parsed and validated. Every
// field is checked for type and range here, so a malformed request becomes a 400 with the
// offending parameter named, before it can reach the model.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "infer/json_grammar.h"
#include "infer/sampler.h"
#include "io/json_file.h"

namespace dsv3::server {

// tool_choice: "auto" (the model decides), "none" (tools are not offered), "required" (some
// call), or {"type": "function", "function": {"name"}} (that call).
enum class ToolChoice { kAuto, kNone, kRequired, kNamed };

struct Limits {
  int64_t context_length = 0;       // prompt + max_tokens
  int64_t vocab_size = 0;           // token ids in prompts and logit_bias
  int64_t max_n = 8;                // choices per request
  int64_t default_max_tokens = 16;  // completions: OpenAI's default
  int64_t default_chat_max_tokens = 1024;  // chat: capped by what the context leaves
};

struct CompletionRequest {
  bool chat = false;
  std::string model;
  // The prompt: token ids, text, or chat messages (text and chat need a tokenizer).
  std::vector<int32_t> prompt_tokens;
  bool prompt_is_tokens = false;
  std::string prompt_text;
  // Chat: the messages as the chat template takes them (content a string; an assistant turn
  // with tool calls has content null and "tool_calls" with string arguments).
  json messages = json::array();
  json tools = json::array();  // OpenAI function objects {"name", "description"?, "parameters"?}
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_name;         // the function tool_choice names
  bool separate_reasoning = true;  // <think>…</think> to reasoning_content
  // DeepSeek's prefix completion: a last assistant message with "prefix": true is the start of
  // the reply, which the model continues (the prefix is not repeated in the output).
  std::string assistant_prefix;
  // response_format json_object / json_schema: the JSON the output must be (null: free text).
  std::shared_ptr<const JsonGrammar> response_grammar;
  // The arguments of a forced call (tool_choice named, or required with one tool).
  std::shared_ptr<const JsonGrammar> tool_grammar;
  // tool_choice "required" with several tools: the arguments of each, in the order of tools
  // (the call is constrained to one of them).
  std::vector<std::shared_ptr<const JsonGrammar>> tool_grammars;
  int64_t max_tokens = -1;  // -1: the endpoint's default, resolved once the prompt length is known
  SamplingParams sampling;
  bool has_seed = false;
  int64_t n = 1;
  bool stream = false, include_usage = false;
  std::vector<std::string> stop;
  int64_t logprobs = -1;  // < 0: none; else the number of top alternatives
  bool ignore_eos = false;
  bool echo = false;  // completions: the prompt (and its logprobs) before the output (echo.h)
};

// Throws ApiError (400) naming the parameter at fault.
CompletionRequest parse_completion_request(const json& body, bool chat, const Limits& limits);

// Resolves max_tokens for a prompt of `prompt_len` tokens and checks it against the context
// (400, code context_length_exceeded).
void check_context(CompletionRequest& r, int64_t prompt_len, const Limits& limits);

}  // namespace dsv3::server
