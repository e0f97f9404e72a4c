#include "tokenizer/chat_template_tools.h"

#include <nlohmann/json.hpp>

namespace dsv3::deepseek_tools {

std::string tools_system_prompt(const nlohmann::json& functions) {
  std::string out = "## Tools\n\n### Function\n\nYou have the following functions available:\n\n";
  for (const auto& f : functions)
    out += "- `" + f.at("name").get<std::string>() + "`:\n```json\n" + f.dump(-1, ' ', false) + "\n```\n";
  return out;
}

std::string forced_call_prefix(const std::string& name) {
  std::string out = kCallsBegin + kCallBegin + "function" + kSep;
  if (!name.empty()) out += name + kArgsOpen;
  return out;
}

}  // namespace dsv3::deepseek_tools
