// The DeepSeek-V3 chat template, rendered natively. tokenizer_config.json carries it as Jinja;
// rather than embed a Jinja engine, dsv3 recognises that exact template and renders the same
// text (tests compare with the reference's Jinja output on many conversations).
//
// Messages: [{"role": "system"|"user"|"assistant"|"tool", "content": "...",
//             "tool_calls": [{"type": "function", "function": {"name": ..., "arguments": ...}}]}]
//   - system prompts are joined with "\n\n" and put first, wherever they appear;
//   - an assistant message with "content": null carries tool calls;
//   - other roles are skipped, as the template skips them.
// Content must be a string (an Error otherwise, where the reference would print "undefined" or
// fail); tool-call arguments are a JSON string, or an object written as compact JSON.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/tokenizer.h"

namespace dsv3 {

class ChatTemplate {
 public:
  // The template of `config`; an Error if it is missing or is not the DeepSeek-V3 template.
  static ChatTemplate from_config(const TokenizerConfig& config);

  std::string render(const nlohmann::json& messages, bool add_generation_prompt) const;

  // The Jinja text of DeepSeek-V3's template (the trainer writes it into its output).
  static const std::string& deepseek_v3_jinja();

 private:
  explicit ChatTemplate(std::string bos) : bos_(std::move(bos)) {}
  std::string bos_;
};

}  // namespace dsv3
