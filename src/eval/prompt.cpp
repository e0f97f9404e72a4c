#include "eval/prompt.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsv3::eval {

PromptStart parse_prompt_start(const std::string& s) {
  if (s == "bos") return PromptStart::kBos;
  if (s == "eos") return PromptStart::kEos;
  if (s == "none") return PromptStart::kNone;
  fail("--prompt-start must be bos, eos or none, got '", s, "'");
}

std::vector<int32_t> encode_prompt(const Tokenizer& tok, const std::string& text, bool chat, PromptStart start) {
  if (chat) return tok.encode(tok.render_chat(nlohmann::json::array({{{"role", "user"}, {"content", text}}}), true));
  std::vector<int32_t> ids;
  if (start == PromptStart::kBos && tok.config().add_bos_token && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  if (start == PromptStart::kEos) {
    if (tok.eos_id() < 0) fail("--prompt-start eos: the tokenizer has no EOS token");
    ids.push_back(tok.eos_id());
  }
  tok.encode_append(text, ids);
  return ids;
}

}  // namespace dsv3::eval
